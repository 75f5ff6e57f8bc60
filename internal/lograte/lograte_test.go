package lograte

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t testing.TB, interval time.Duration, maxKeys int) (*Limiter, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l, err := New(&Options{Interval: interval, MaxKeys: maxKeys, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

func TestFirstThenOncePerInterval(t *testing.T) {
	l, c := newTest(t, 10*time.Second, 0)
	k := Key{Endpoint: "get-online-features", Status: 503, Kind: "unavailable"}
	if ok, n := l.Allow(k); !ok || n != 0 {
		t.Fatalf("first occurrence: ok=%v suppressed=%d, want true 0", ok, n)
	}
	for i := range 999 {
		c.add(time.Millisecond)
		if ok, _ := l.Allow(k); ok {
			t.Fatalf("occurrence %d within the interval was allowed", i+2)
		}
	}
	c.add(10 * time.Second)
	if ok, n := l.Allow(k); !ok || n != 999 {
		t.Fatalf("after the interval: ok=%v suppressed=%d, want true 999", ok, n)
	}
	// Another key is independent.
	k2 := k
	k2.Status = 504
	if ok, n := l.Allow(k2); !ok || n != 0 {
		t.Fatalf("another key: ok=%v suppressed=%d, want true 0", ok, n)
	}
	if ok, _ := l.Allow(k); ok {
		t.Fatal("the first key was allowed again right after its line")
	}
	var flushed = map[Key]int64{}
	if total := l.Flush(func(k Key, n int64) { flushed[k] = n }); total != 1 || flushed[k] != 1 || len(flushed) != 1 {
		t.Fatalf("Flush = %d %v, want 1 for %v only", total, flushed, k)
	}
	if total := l.Flush(nil); total != 0 {
		t.Fatalf("second Flush = %d, want 0", total)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{Interval: -1}, {MaxKeys: 1}, {MaxKeys: -3}} {
		if _, err := New(&o); !errors.Is(err, ErrOptions) {
			t.Errorf("New(%+v) = %v, want ErrOptions", o, err)
		}
	}
	l, err := New(nil)
	if err != nil || l.interval != int64(10*time.Second) || l.maxKeys != 256 {
		t.Fatalf("New(nil) = %+v, %v; want the defaults", l, err)
	}
	var nl *Limiter
	if ok, n := nl.Allow(Key{}); !ok || n != 0 || nl.Flush(nil) != 0 || nl.Len() != 0 {
		t.Fatal("a nil Limiter must allow everything")
	}
}

// TestBoundedAndExact drives a limiter with random keys (more than it can
// hold), random clock steps and random flushes, and checks against a plain
// count that no occurrence is lost or double-counted and that the table
// never exceeds MaxKeys.
func TestBoundedAndExact(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		maxKeys := 2 + r.IntN(8)
		l, c := newTest(t, time.Second, maxKeys)
		var occurrences, logged, reported int64
		for range 5000 {
			switch r.IntN(100) {
			case 0:
				reported += l.Flush(nil)
			case 1, 2, 3:
				c.add(time.Duration(r.IntN(2000)) * time.Millisecond)
			default:
				k := Key{Endpoint: "e" + strconv.Itoa(r.IntN(20)), Status: 500 + r.IntN(4), Kind: "k"}
				occurrences++
				if ok, n := l.Allow(k); ok {
					logged++
					reported += n
				}
			}
			if n := l.Len(); n > maxKeys {
				t.Fatalf("seed %d: %d keys tracked, MaxKeys %d", seed, n, maxKeys)
			}
		}
		reported += l.Flush(nil)
		if logged+reported != occurrences {
			t.Fatalf("seed %d: %d logged + %d reported suppressed != %d occurrences", seed, logged, reported, occurrences)
		}
	}
}

func TestOverflowWhenFull(t *testing.T) {
	l, c := newTest(t, time.Minute, 3)
	a, b, d := Key{Kind: "a"}, Key{Kind: "b"}, Key{Kind: "d"}
	l.Allow(a)
	l.Allow(b)
	// The table is full of busy keys: d is counted under the overflow key,
	// whose first line is allowed.
	if ok, n := l.Allow(d); !ok || n != 0 {
		t.Fatalf("first overflowed key: ok=%v n=%d", ok, n)
	}
	if ok, _ := l.Allow(Key{Kind: "e"}); ok {
		t.Fatal("a second overflowed key within the interval was allowed")
	}
	if l.Len() != 3 {
		t.Fatalf("Len = %d, want 3", l.Len())
	}
	// Once a and b are idle, a new key evicts them and gets its own entry.
	l.Allow(a) // suppressed: counts 1 pending on a
	c.add(time.Minute)
	if ok, n := l.Allow(d); !ok || n != 0 {
		t.Fatalf("new key after idle eviction: ok=%v n=%d, want true 0", ok, n)
	}
	// a's pending 1 moved to the overflow entry, which had 1 of its own.
	if got := l.Flush(nil); got != 2 {
		t.Fatalf("Flush after eviction = %d, want 2", got)
	}
}

func TestConcurrent(t *testing.T) {
	l, _ := newTest(t, time.Hour, 16)
	const goroutines, each = 8, 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var logged int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine int64
			for i := range each {
				if ok, _ := l.Allow(Key{Endpoint: "e", Status: 500 + (g+i)%3}); ok {
					mine++
				}
			}
			mu.Lock()
			logged += mine
			mu.Unlock()
		}()
	}
	wg.Wait()
	if logged != 3 {
		t.Fatalf("%d lines allowed, want 3 (one per key)", logged)
	}
	if got := l.Flush(nil); got != goroutines*each-3 {
		t.Fatalf("Flush = %d, want %d", got, goroutines*each-3)
	}
}

// BenchmarkAllowSuppressed measures the hot path of a flood: one key,
// every call suppressed.
//
//	go test -bench . -count 10 ./internal/lograte | tee new.txt; benchstat old.txt new.txt
func BenchmarkAllowSuppressed(b *testing.B) {
	l, _ := newTest(b, time.Hour, 0)
	k := Key{Endpoint: "get-online-features", Status: 503, Kind: "unavailable"}
	l.Allow(k)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(k)
		}
	})
}
