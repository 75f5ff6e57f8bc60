package redis

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/fstore/fstore/featurestore/internal/rowcache"
)

// trackerPushes is what a tracker reads from Redis: a pong, an
// invalidation of two keys (one outside the prefix), a flush.
const trackerPushes = "*2\r\n$4\r\npong\r\n$0\r\n\r\n" +
	"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n$4\r\np:k1\r\n$2\r\nzz\r\n" +
	"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*-1\r\n"

func TestTrackerPushes(t *testing.T) {
	c := &clientCache{rows: rowcache.New(1 << 20), prefix: []byte("p:")}
	for _, k := range []string{"k1", "k2"} {
		_, _, gen := c.rows.Get([]byte(k))
		c.rows.Put([]byte(k), []byte("v"), gen)
	}
	r := bufio.NewReader(bytes.NewReader([]byte(trackerPushes)))
	var buf []byte
	var err error
	// pong: nothing changes.
	if buf, err = c.readPush(r, buf); err != nil || c.rows.Len() != 2 {
		t.Fatalf("pong: %v, %d entries", err, c.rows.Len())
	}
	// The invalidation drops k1 (under the prefix) only.
	if buf, err = c.readPush(r, buf); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.rows.Get([]byte("k1")); ok || c.rows.Len() != 1 || c.invalidations.Load() != 1 {
		t.Fatalf("after invalidating k1: %d entries, %d invalidations", c.rows.Len(), c.invalidations.Load())
	}
	// null: everything goes.
	if _, err = c.readPush(r, buf); err != nil || c.rows.Len() != 0 || c.flushes.Load() != 1 {
		t.Fatalf("flush: %v, %d entries, %d flushes", err, c.rows.Len(), c.flushes.Load())
	}
	if _, err = c.readPush(r, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want EOF", err)
	}
	for _, bad := range []string{
		"+OK\r\n",
		"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n:1\r\n",
		"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$99\r\nshort\r\n",
		"*2\r\n$4\r\nnope\r\n$0\r\n\r\n",
		"*2\r\n$4\r\npong\r\n$0\r\nxx",
	} {
		if _, err := c.readPush(bufio.NewReader(bytes.NewReader([]byte(bad))), nil); err == nil {
			t.Errorf("readPush(%q) succeeded", bad)
		}
	}
}

// FuzzTrackerPush feeds the tracker's parser arbitrary bytes: it must
// return an error or act, never panic, and never allocate more than the
// input could hold.
func FuzzTrackerPush(f *testing.F) {
	f.Add([]byte(trackerPushes))
	f.Add([]byte("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$536870912\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &clientCache{rows: rowcache.New(1 << 16), prefix: []byte("p:")}
		r := bufio.NewReader(bytes.NewReader(data))
		var buf []byte
		var err error
		for err == nil {
			buf, err = c.readPush(r, buf)
		}
	})
}
