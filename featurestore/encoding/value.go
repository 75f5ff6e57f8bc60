package encoding

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// FormatV1 is the first byte of every value this package writes.
const FormatV1 byte = 1

// Layout describes a view's value: its schema version, the types of its
// plain features, and its aggregations. Writers and readers must agree on
// it; the schema version in every value checks that they do.
type Layout struct {
	SchemaVersion uint32
	Features      []def.ValueType
	Aggs          []AggLayout
}

// AggLayout is what a tile of one aggregation holds.
type AggLayout struct {
	Func def.AggFunc
	// In is the type of the aggregated values (ignored for COUNT).
	In def.ValueType
}

// Value is one entity's online state in one view.
//
// Layout (all integers little-endian unless said):
//
//	format      1 byte, FormatV1
//	schema      uint32 big-endian, Layout.SchemaVersion
//	through     zigzag varint: the end time (microseconds) of the latest
//	            materialisation this value includes; events at or before it
//	            are already in it (math.MinInt64 when none, e.g. pushed only)
//	flags       1 byte: bit 0 set when the entity has a latest row
//	[if latest row]
//	  event_ts  8 bytes, microseconds
//	  created   8 bytes, microseconds (compute.NullCreated when none)
//	  nulls     ceil(len(Features)/8) bytes, bit i set: feature i is null
//	  features  each non-null: INT64/TIMESTAMP 8 bytes, DOUBLE 8 bytes IEEE,
//	            BOOL 1 byte, STRING uvarint length + bytes
//	per aggregation:
//	  tiles     uvarint count, then per tile: K as a zigzag varint (the first
//	            absolute, the next as the difference from the previous),
//	            then the accumulator (Acc) fields the function uses:
//	            COUNT n; SUM n and the sum (zigzag varint for INT64, 8 bytes
//	            for DOUBLE); MEAN n, sum; STDDEV n, mean, m2; MIN/MAX n and
//	            the value; LAST n, ts and created (zigzag varints) and the
//	            value. n is a uvarint, values are encoded as features are.
type Value struct {
	// Through is the end of the latest materialisation the value includes:
	// a rerun skips events at or before it, which makes materialisation
	// idempotent and lets a killed run be completed by the next.
	Through  int64
	HasRow   bool
	EventTS  int64
	Created  int64
	Features []Scalar
	Tiles    []compute.Tiles
}

// Scalar is one feature value; Null when absent.
type Scalar struct {
	Null bool
	I    int64 // INT64, TIMESTAMP
	F    float64
	B    bool
	S    string
}

// Append appends v encoded with layout l.
func (l *Layout) Append(dst []byte, v *Value) []byte {
	dst = append(dst, FormatV1)
	dst = binary.BigEndian.AppendUint32(dst, l.SchemaVersion)
	dst = binary.AppendVarint(dst, v.Through)
	if !v.HasRow {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v.EventTS))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v.Created))
		nb := (len(l.Features) + 7) / 8
		at := len(dst)
		for i := 0; i < nb; i++ {
			dst = append(dst, 0)
		}
		for i, t := range l.Features {
			s := v.Features[i]
			if s.Null {
				dst[at+i/8] |= 1 << (i % 8)
				continue
			}
			dst = appendScalar(dst, t, s)
		}
	}
	for ai, a := range l.Aggs {
		var tiles compute.Tiles
		if ai < len(v.Tiles) {
			tiles = v.Tiles[ai]
		}
		dst = binary.AppendUvarint(dst, uint64(len(tiles)))
		prev := int64(0)
		for _, t := range tiles {
			dst = binary.AppendVarint(dst, t.K-prev)
			prev = t.K
			dst = appendAcc(dst, a, &t.Acc)
		}
	}
	return dst
}

func appendScalar(dst []byte, t def.ValueType, s Scalar) []byte {
	switch t {
	case def.Int64, def.Timestamp:
		return binary.LittleEndian.AppendUint64(dst, uint64(s.I))
	case def.Double:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.F))
	case def.Bool:
		if s.B {
			return append(dst, 1)
		}
		return append(dst, 0)
	case def.String:
		dst = binary.AppendUvarint(dst, uint64(len(s.S)))
		return append(dst, s.S...)
	}
	return dst
}

func appendAcc(dst []byte, a AggLayout, acc *compute.Acc) []byte {
	dst = binary.AppendUvarint(dst, uint64(acc.N))
	f64 := func(x float64) { dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x)) }
	switch a.Func {
	case def.Count:
	case def.Sum:
		if a.In == def.Int64 {
			dst = binary.AppendVarint(dst, acc.I)
		} else {
			f64(acc.F)
		}
	case def.Mean:
		f64(acc.F)
	case def.Stddev:
		f64(acc.F)
		f64(acc.M2)
	case def.Min, def.Max:
		dst = appendScalar(dst, a.In, Scalar{I: acc.I, F: acc.F, S: acc.S, B: acc.B})
	case def.Last:
		dst = binary.AppendVarint(dst, acc.TS)
		dst = binary.AppendVarint(dst, acc.Created)
		dst = appendScalar(dst, a.In, Scalar{I: acc.I, F: acc.F, S: acc.S, B: acc.B})
	}
	return dst
}

// reader walks encoded bytes; every read checks the length left.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *reader) byte1(what string) byte {
	if len(r.b) < 1 {
		r.fail("truncated " + what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u64(what string) uint64 {
	if len(r.b) < 8 {
		r.fail("truncated " + what)
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// uvarint and varint accept only minimal encodings, so that every value
// has one encoding: a multi-byte varint never ends in a zero byte.
func (r *reader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) {
		r.fail("bad " + what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if len(r.b) >= 8 {
		// Up to 8 bytes, the usual length (a time in microseconds takes
		// 8), decoded from one word: its 7-bit groups packed in three
		// steps instead of a loop a byte.
		x := binary.LittleEndian.Uint64(r.b)
		if x&0x80 == 0 { // one byte
			r.b = r.b[1:]
			x &= 0x7f
			return int64(x>>1) ^ -int64(x&1)
		}
		if stop := ^x & 0x8080808080808080; stop != 0 {
			n := bits.TrailingZeros64(stop)/8 + 1
			if n == 1 || r.b[n-1] != 0 {
				x &= 1<<(8*n&63) - 1 | -(uint64(n) >> 3) // all 8 bytes when n == 8
				x = x&0x007f007f007f007f | x&0x7f007f007f007f00>>1
				x = x&0x00003fff00003fff | x&0x3fff00003fff0000>>2
				x = x&0x000000000fffffff | x&0x0fffffff00000000>>4
				r.b = r.b[n:]
				return int64(x>>1) ^ -int64(x&1)
			}
		}
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) {
		r.fail("bad " + what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) scalar(t def.ValueType, what string) Scalar {
	var s Scalar
	switch t {
	case def.Int64, def.Timestamp:
		s.I = int64(r.u64(what))
	case def.Double:
		s.F = math.Float64frombits(r.u64(what))
	case def.Bool:
		switch r.byte1(what) {
		case 0:
		case 1:
			s.B = true
		default:
			r.fail("BOOL " + what + " is neither 0 nor 1")
		}
	case def.String:
		n := r.uvarint(what + " length")
		if n > uint64(len(r.b)) {
			r.fail("STRING " + what + " longer than the value")
			return s
		}
		s.S = string(r.b[:n])
		r.b = r.b[n:]
	}
	return s
}

// Decode decodes b, written with layout l, into v, reusing v's slices.
func (l *Layout) Decode(b []byte, v *Value) error {
	r := reader{b: b}
	if err := l.decodeHeader(&r, v); err != nil {
		return err
	}
	v.Features = v.Features[:0]
	if v.HasRow && r.err == nil {
		nulls := l.nullBitmap(&r)
		for i, t := range l.Features {
			if r.err != nil {
				break
			}
			if nulls[i/8]&(1<<(i%8)) != 0 {
				v.Features = append(v.Features, Scalar{Null: true})
				continue
			}
			// The fixed-width types inline; the rest go through scalar.
			if (t == def.Double || t == def.Int64 || t == def.Timestamp) && len(r.b) >= 8 {
				x := binary.LittleEndian.Uint64(r.b)
				r.b = r.b[8:]
				if t == def.Double {
					v.Features = append(v.Features, Scalar{F: math.Float64frombits(x)})
				} else {
					v.Features = append(v.Features, Scalar{I: int64(x)})
				}
				continue
			}
			v.Features = append(v.Features, r.scalar(t, "feature"))
		}
	}
	return l.decodeTiles(&r, v, nil)
}

// decodeHeader reads the format, schema version, through, flags and, for
// a value with a row, its times. An error it returns is final; r.err
// otherwise carries a truncation for the caller to report.
func (l *Layout) decodeHeader(r *reader, v *Value) error {
	if f := r.byte1("format"); r.err == nil && f != FormatV1 {
		return fmt.Errorf("%w: unknown format %d", ErrCorrupt, f)
	}
	if len(r.b) < 4 {
		return fmt.Errorf("%w: truncated schema version", ErrCorrupt)
	}
	if sv := binary.BigEndian.Uint32(r.b); sv != l.SchemaVersion {
		return fmt.Errorf("%w: the value has schema version %d, the reader %d", ErrSchemaVersion, sv, l.SchemaVersion)
	}
	r.b = r.b[4:]
	v.Through = r.varint("through")
	flags := r.byte1("flags")
	if flags > 1 {
		r.fail("unknown flags")
	}
	v.HasRow = flags == 1
	v.EventTS, v.Created = 0, 0 // a reused Value must not keep a previous row's times
	if v.HasRow && r.err == nil {
		v.EventTS = int64(r.u64("event time"))
		v.Created = int64(r.u64("created time"))
	}
	return nil
}

// nullBitmap reads the null bitmap of the plain features. On a
// truncated or non-canonical bitmap it fails r and returns a bitmap of
// the right size marking none, so that callers need no second check.
func (l *Layout) nullBitmap(r *reader) []byte {
	nb := (len(l.Features) + 7) / 8
	if r.err != nil || len(r.b) < nb {
		r.fail("truncated null bitmap")
		return make([]byte, nb)
	}
	nulls := r.b[:nb]
	r.b = r.b[nb:]
	if rem := len(l.Features) % 8; rem != 0 && nulls[nb-1]>>rem != 0 {
		// Only one encoding per value: byte equality is value equality.
		r.fail("null bits set past the last feature")
	}
	return nulls
}

// skipScalar checks and skips an encoded scalar of type t.
func (r *reader) skipScalar(t def.ValueType, what string) {
	switch t {
	case def.Int64, def.Timestamp, def.Double:
		if len(r.b) < 8 {
			r.fail("truncated " + what)
			return
		}
		r.b = r.b[8:]
	case def.String:
		n := r.uvarint(what + " length")
		if n > uint64(len(r.b)) {
			r.fail("STRING " + what + " longer than the value")
			return
		}
		r.b = r.b[n:]
	default:
		r.scalar(t, what)
	}
}

// decodeTiles reads the tiles of every aggregation into v.Tiles (those of
// aggregations want leaves out are checked and dropped) and checks that
// nothing follows them.
func (l *Layout) decodeTiles(r *reader, v *Value, want []bool) error {
	if cap(v.Tiles) < len(l.Aggs) {
		v.Tiles = make([]compute.Tiles, len(l.Aggs))
	}
	v.Tiles = v.Tiles[:len(l.Aggs)]
	nf := len(l.Features)
	for ai, a := range l.Aggs {
		keep := want == nil || want[nf+ai]
		n := r.uvarint("tile count")
		if n > uint64(len(r.b)) { // every tile takes at least a byte
			r.fail("tile count larger than the value")
			break
		}
		tiles := v.Tiles[ai][:0]
		prev := int64(0)
		for i := uint64(0); i < n && r.err == nil; i++ {
			k := prev + r.varint("tile index")
			prev = k
			var acc compute.Acc
			acc.N = int64(r.uvarint("count"))
			switch a.Func {
			case def.Sum:
				if a.In == def.Int64 {
					acc.I = r.varint("sum")
				} else {
					acc.F = math.Float64frombits(r.u64("sum"))
				}
			case def.Mean:
				acc.F = math.Float64frombits(r.u64("sum"))
			case def.Stddev:
				acc.F = math.Float64frombits(r.u64("mean"))
				acc.M2 = math.Float64frombits(r.u64("m2"))
			case def.Min, def.Max, def.Last:
				if a.Func == def.Last {
					acc.TS = r.varint("last time")
					acc.Created = r.varint("last created time")
				}
				if !keep {
					r.skipScalar(a.In, "tile value")
					break
				}
				s := r.scalar(a.In, "tile value")
				acc.I, acc.F, acc.S, acc.B = s.I, s.F, s.S, s.B
			}
			if keep {
				tiles = append(tiles, compute.Tile{K: k, Acc: acc})
			}
		}
		v.Tiles[ai] = tiles
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the value", ErrCorrupt, len(r.b))
	}
	return nil
}
