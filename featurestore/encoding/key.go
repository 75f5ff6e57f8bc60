package encoding

import (
	"encoding/binary"
	"fmt"

	"github.com/fstore/fstore/featurestore/def"
)

// Key tags: the first byte of every online-store key.
const (
	// TagEntity prefixes an entity's value in one view.
	TagEntity byte = 'e'
	// TagMeta prefixes per-view metadata (watermarks).
	TagMeta byte = 'm'
)

// AppendKeyPrefix appends the tag and view id every key of the view starts
// with.
func AppendKeyPrefix(dst []byte, tag byte, view uint32) []byte {
	dst = append(dst, tag)
	return binary.BigEndian.AppendUint32(dst, view)
}

// AppendInt64 appends an INT64 key part, order-preserving.
func AppendInt64(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63))
}

// AppendString appends a STRING key part, order-preserving and
// self-terminating.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0, 0xff)
			continue
		}
		dst = append(dst, s[i])
	}
	return append(dst, 0, 1)
}

// KeyPart is one decoded join key part: I for INT64, S for STRING.
type KeyPart struct {
	I int64
	S string
}

// DecodeKey decodes a key written with AppendKeyPrefix and one part per
// type in types (INT64 or STRING), appending the parts to parts.
func DecodeKey(b []byte, types []def.ValueType, parts []KeyPart) (tag byte, view uint32, out []KeyPart, err error) {
	if len(b) < 5 {
		return 0, 0, parts, fmt.Errorf("%w: key of %d bytes is shorter than its prefix", ErrCorrupt, len(b))
	}
	tag, view, b = b[0], binary.BigEndian.Uint32(b[1:5]), b[5:]
	for i, t := range types {
		switch t {
		case def.Int64:
			if len(b) < 8 {
				return 0, 0, parts, fmt.Errorf("%w: key part %d: INT64 needs 8 bytes, %d left", ErrCorrupt, i, len(b))
			}
			parts = append(parts, KeyPart{I: int64(binary.BigEndian.Uint64(b) ^ (1 << 63))})
			b = b[8:]
		case def.String:
			str, rest, err := decodeString(b)
			if err != nil {
				return 0, 0, parts, fmt.Errorf("%w: key part %d: %v", ErrCorrupt, i, err)
			}
			parts = append(parts, KeyPart{S: str})
			b = rest
		default:
			return 0, 0, parts, fmt.Errorf("encoding: join keys are INT64 or STRING, not %s", t)
		}
	}
	if len(b) != 0 {
		return 0, 0, parts, fmt.Errorf("%w: %d bytes after the last key part", ErrCorrupt, len(b))
	}
	return tag, view, parts, nil
}

// decodeString reads an escaped, terminated STRING key part.
func decodeString(b []byte) (string, []byte, error) {
	var s []byte
	for j := 0; ; {
		if j >= len(b) {
			return "", nil, fmt.Errorf("unterminated STRING")
		}
		if b[j] != 0 {
			s = append(s, b[j])
			j++
			continue
		}
		if j+1 >= len(b) {
			return "", nil, fmt.Errorf("unterminated STRING")
		}
		switch b[j+1] {
		case 0xff:
			s = append(s, 0)
			j += 2
		case 1:
			return string(s), b[j+2:], nil
		default:
			return "", nil, fmt.Errorf("bad escape 0x00 0x%02x", b[j+1])
		}
	}
}
