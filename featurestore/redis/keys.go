package redis

import "bytes"

// keyPrefixLen is the length of the prefix every key of a view starts
// with: a tag byte and the view id (featurestore/encoding). The bytes after
// it identify the entity.
const keyPrefixLen = 5

// tagLen is the length of the hash tag a cluster key carries: '{', eight
// hex digits, '}'.
const tagLen = 10

// keyLayout maps the store's keys to Redis keys and back. The zero value
// is a single node with no prefix.
type keyLayout struct {
	prefix  string
	cluster bool
}

// overhead is how many bytes a Redis key has before the store's key.
func (l keyLayout) overhead() int {
	if l.cluster {
		return len(l.prefix) + tagLen
	}
	return len(l.prefix)
}

// appendKey appends the Redis key of key: prefix, then in a cluster the
// hash tag of key's entity, then key itself.
func (l keyLayout) appendKey(dst, key []byte) []byte {
	dst = append(dst, l.prefix...)
	if l.cluster {
		dst = appendTag(dst, key)
	}
	return append(dst, key...)
}

// appendTag appends "{h}", h being eight lowercase hex digits of the
// FNV-1a hash of the bytes that identify key's entity: those after the
// 5-byte view prefix, or the whole key when it is no longer than that
// prefix (per-view metadata). Every view's key of one entity hence has the
// same tag and lives in the same slot. Hashing, rather than putting the
// entity bytes between the braces, keeps the tag well-formed whatever
// those bytes are: Redis takes the text between the first '{' and the
// first '}' after it, so an entity holding '}' would cut its own tag.
func appendTag(dst, key []byte) []byte {
	entity := key
	if len(key) > keyPrefixLen {
		entity = key[keyPrefixLen:]
	}
	h := uint32(2166136261)
	for _, c := range entity {
		h ^= uint32(c)
		h *= 16777619
	}
	const hex = "0123456789abcdef"
	dst = append(dst, '{')
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hex[(h>>shift)&0xf])
	}
	return append(dst, '}')
}

// storeKey returns the store's key inside the Redis key rk, and false when
// rk is not laid out by l (a key of another tenant that a SCAN pattern
// matched, which cannot happen with a well-formed pattern).
func (l keyLayout) storeKey(rk []byte) ([]byte, bool) {
	if len(rk) < l.overhead() || !bytes.HasPrefix(rk, []byte(l.prefix)) {
		return nil, false
	}
	if l.cluster {
		tag := rk[len(l.prefix) : len(l.prefix)+tagLen]
		if tag[0] != '{' || tag[tagLen-1] != '}' {
			return nil, false
		}
	}
	return rk[l.overhead():], true
}

// appendPattern appends the SCAN MATCH pattern of the Redis keys whose
// store key starts with prefix.
func (l keyLayout) appendPattern(dst, prefix []byte) []byte {
	dst = appendGlobEscaped(dst, []byte(l.prefix))
	if l.cluster {
		dst = append(dst, "{????????}"...)
	}
	dst = appendGlobEscaped(dst, prefix)
	return append(dst, '*')
}

// appendGlobEscaped appends b with a backslash before every byte that is
// special in a Redis glob pattern, so the pattern matches b literally.
func appendGlobEscaped(dst, b []byte) []byte {
	for _, c := range b {
		switch c {
		case '*', '?', '[', ']', '\\':
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst
}
