package rowcache

import (
	"fmt"
	"testing"
)

func TestGenerations(t *testing.T) {
	c := New(1 << 20)
	k := []byte("k")
	if _, ok, _ := c.Get(k); ok {
		t.Fatal("empty cache hit")
	}
	// A read that started before an invalidation cannot cache.
	_, _, gen := c.Get(k)
	c.Invalidate(k)
	c.Put(k, []byte("stale"), gen)
	if _, ok, _ := c.Get(k); ok {
		t.Fatal("a value read before an invalidation was cached")
	}
	// One that started after can, and a copy is kept.
	_, _, gen = c.Get(k)
	v := []byte("fresh")
	c.Put(k, v, gen)
	v[0] = 'X'
	if got, ok, _ := c.Get(k); !ok || string(got) != "fresh" {
		t.Fatalf("Get = %q, %v; want a copy of \"fresh\"", got, ok)
	}
	// Absent keys are cached empty.
	a := []byte("absent")
	_, _, gen = c.Get(a)
	c.Put(a, nil, gen)
	if got, ok, _ := c.Get(a); !ok || len(got) != 0 {
		t.Fatalf("absent: Get = %q, %v", got, ok)
	}
	// Flush drops everything and invalidates every read in flight.
	_, _, gen = c.Get([]byte("other"))
	c.Flush()
	if c.Len() != 0 {
		t.Fatalf("Len after Flush = %d", c.Len())
	}
	c.Put([]byte("other"), []byte("v"), gen)
	if _, ok, _ := c.Get([]byte("other")); ok {
		t.Fatal("a value read before a Flush was cached")
	}
}

func TestBudget(t *testing.T) {
	const size = 64 << 10
	c := New(size)
	val := make([]byte, 100)
	for i := range 10_000 {
		k := fmt.Appendf(nil, "key-%d", i)
		_, _, gen := c.Get(k)
		c.Put(k, val, gen)
	}
	var used int64
	for i := range c.shards {
		used += c.shards[i].size
	}
	if used > size || c.Len() == 0 {
		t.Fatalf("%d entries charged %d bytes, budget %d", c.Len(), used, size)
	}
	// An entry larger than a shard's budget is not cached at all.
	big := make([]byte, size)
	_, _, gen := c.Get([]byte("big"))
	c.Put([]byte("big"), big, gen)
	if _, ok, _ := c.Get([]byte("big")); ok {
		t.Fatal("an entry over a shard's budget was cached")
	}
}
