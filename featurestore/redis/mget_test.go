package redis

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// mgetReply encodes vals as Redis answers an MGET (RESP2): nil is absent.
func mgetReply(vals [][]byte) []byte {
	b := []byte("*" + strconv.Itoa(len(vals)) + "\r\n")
	for _, v := range vals {
		if v == nil {
			b = append(b, "$-1\r\n"...)
			continue
		}
		b = append(b, "$"+strconv.Itoa(len(v))+"\r\n"...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	return b
}

func TestParseMGet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		vals := make([][]byte, r.IntN(20))
		for i := range vals {
			if r.IntN(4) == 0 {
				continue
			}
			vals[i] = make([]byte, r.IntN(300))
			for j := range vals[i] {
				vals[i][j] = byte(r.Uint32()) // \r and \n included
			}
		}
		got := make([][]byte, len(vals))
		if err := parseMGet(mgetReply(vals), len(vals), 0, func(i int, v []byte) { got[i] = bytes.Clone(v) }); err != nil {
			t.Fatal(err)
		}
		for i := range vals {
			if (got[i] == nil) != (vals[i] == nil) || !bytes.Equal(got[i], vals[i]) {
				t.Fatalf("value %d: %q, want %q", i, got[i], vals[i])
			}
		}
	}
	// The base offsets the indexes of a later batch.
	var idx []int
	parseMGet(mgetReply([][]byte{nil, []byte("x")}), 2, 10, func(i int, _ []byte) { idx = append(idx, i) })
	if fmt.Sprint(idx) != "[11]" {
		t.Fatalf("indexes %v", idx)
	}
	// An error reply is a goredis.Error; malformed replies are errors.
	err := parseMGet([]byte("-WRONGTYPE Operation against a key\r\n"), 1, 0, nil)
	var reply goredis.Error
	if !errors.As(err, &reply) || err.Error() != "WRONGTYPE Operation against a key" || unavailable(err) {
		t.Fatalf("error reply: %v", err)
	}
	for _, bad := range []string{"", "*1", "*2\r\n$1\r\nx\r\n", "*1\r\n$5\r\nx\r\n", "*1\r\n$1\r\nxy\r\n", "*1\r\n:1\r\n", "*1\r\n$-2\r\n", "*1\r\n$1\r\nx\r\nextra", "+OK\r\n"} {
		if err := parseMGet([]byte(bad), 1, 0, func(int, []byte) {}); !errors.Is(err, errBadReply) {
			t.Errorf("%q: %v, want errBadReply", bad, err)
		}
	}
}

// FuzzParseMGet: no reply panics or reads outside itself; what parses
// re-encodes to the same bytes.
func FuzzParseMGet(f *testing.F) {
	f.Add(mgetReply([][]byte{[]byte("a"), nil, []byte("b\r\nc")}), 3)
	f.Add([]byte("*1\r\n$3\r\nabc\r\n"), 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 100 {
			return
		}
		vals := make([][]byte, n)
		if err := parseMGet(b, n, 0, func(i int, v []byte) { vals[i] = bytes.Clone(v) }); err != nil {
			return
		}
		if again := mgetReply(vals); !bytes.Equal(again, b) && !bytes.Contains(b, []byte("_")) {
			t.Fatalf("%q parses and re-encodes as %q", b, again)
		}
	})
}
