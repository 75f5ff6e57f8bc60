package redis

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestKeyLayout pins the Redis keys' exact bytes: changing them would
// orphan every key already written.
func TestKeyLayout(t *testing.T) {
	view7 := "e\x00\x00\x00\x07"
	tests := []struct {
		layout keyLayout
		key    string
		want   string
	}{
		{keyLayout{}, view7 + "abc", view7 + "abc"},
		{keyLayout{prefix: "t1:"}, view7 + "abc", "t1:" + view7 + "abc"},
		// The tag hashes the entity, the bytes after the view prefix.
		{keyLayout{cluster: true}, view7 + "abc", "{1a47e90b}" + view7 + "abc"},
		{keyLayout{prefix: "t1:", cluster: true}, view7 + "abc", "t1:{1a47e90b}" + view7 + "abc"},
		{keyLayout{cluster: true}, "m\x00\x00\x00\x09abc", "{1a47e90b}m\x00\x00\x00\x09abc"},
		// Braces in the entity stay out of the tag.
		{keyLayout{cluster: true}, view7 + "\x00{}", "{2e5b66c3}" + view7 + "\x00{}"},
		// Keys no longer than a view prefix hash whole.
		{keyLayout{cluster: true}, view7, "{e2e37be5}" + view7},
		{keyLayout{cluster: true}, "", "{811c9dc5}"},
	}
	for _, tc := range tests {
		got := string(tc.layout.appendKey(nil, []byte(tc.key)))
		if got != tc.want {
			t.Errorf("%+v.appendKey(%q) = %q, want %q", tc.layout, tc.key, got, tc.want)
		}
		back, ok := tc.layout.storeKey([]byte(got))
		if !ok || string(back) != tc.key {
			t.Errorf("%+v.storeKey(%q) = %q, %v, want %q", tc.layout, got, back, ok, tc.key)
		}
	}
}

// TestTagIsFNV1a checks appendTag against hash/fnv.
func TestTagIsFNV1a(t *testing.T) {
	for _, entity := range []string{"", "a", "abc", "\x00\xff{}*?[]\\", "0123456789"} {
		h := fnv.New32a()
		h.Write([]byte(entity))
		want := fmt.Sprintf("{%08x}", h.Sum32())
		if got := string(appendTag(nil, []byte("e\x00\x00\x00\x01"+entity))); entity != "" && got != want {
			t.Errorf("tag of entity %q = %s, want %s", entity, got, want)
		}
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		layout keyLayout
		prefix string
		want   string
	}{
		{keyLayout{}, "ab", "ab*"},
		{keyLayout{prefix: "t*"}, `a*?[]\b{}`, `t\*a\*\?\[\]\\b{}*`},
		{keyLayout{prefix: "t:", cluster: true}, "ab", "t:{????????}ab*"},
		{keyLayout{cluster: true}, "", "{????????}*"},
	}
	for _, tc := range tests {
		if got := string(tc.layout.appendPattern(nil, []byte(tc.prefix))); got != tc.want {
			t.Errorf("%+v.appendPattern(%q) = %q, want %q", tc.layout, tc.prefix, got, tc.want)
		}
	}
}

// FuzzKeyLayout checks that a key's Redis key maps back to it and that the
// SCAN pattern of a prefix matches the Redis key exactly when the key has
// the prefix. path.Match stands in for Redis's glob: on the patterns used
// here (literal bytes, escapes, '?' and a final '*') the two agree, except
// that path.Match's '*' and '?' do not match '/' and that it matches runes
// rather than bytes, so inputs with '/' or not UTF-8 are skipped.
func FuzzKeyLayout(f *testing.F) {
	f.Add([]byte("e\x00\x00\x00\x07abc"), []byte("e\x00\x00"), "", true)
	f.Add([]byte("e\x00\x00\x00\x07{x}"), []byte("e\x00\x00\x00\x07{"), "t:", true)
	f.Add([]byte("*?[]\\"), []byte("*?["), "p*", false)
	f.Fuzz(func(t *testing.T, key, prefix []byte, pfx string, cluster bool) {
		if bytes.ContainsAny(key, "/") || bytes.ContainsAny(prefix, "/") || strings.ContainsAny(pfx, "/{}") ||
			!utf8.Valid(key) || !utf8.Valid(prefix) || !utf8.ValidString(pfx) {
			t.Skip()
		}
		l := keyLayout{prefix: pfx, cluster: cluster}
		rk := l.appendKey(nil, key)
		back, ok := l.storeKey(rk)
		if !ok || !bytes.Equal(back, key) {
			t.Fatalf("storeKey(appendKey(%q)) = %q, %v", key, back, ok)
		}
		matched, err := path.Match(string(l.appendPattern(nil, prefix)), string(rk))
		if err != nil {
			t.Fatalf("pattern of %q: %v", prefix, err)
		}
		if want := bytes.HasPrefix(key, prefix); matched != want {
			t.Fatalf("pattern of prefix %q matches key %q: %v, want %v", prefix, key, matched, want)
		}
	})
}
