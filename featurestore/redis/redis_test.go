package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/redis"
	"github.com/fstore/fstore/featurestore/storetest"
	"github.com/fstore/fstore/internal/redistest"
)

var _ featurestore.OnlineStore = (*redis.Store)(nil)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial, which TestUnreachable makes on
	// purpose; the errors the store returns say the same.
	goredis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func open(t testing.TB, url string) *redis.Store {
	t.Helper()
	s, err := redis.Open(url, redis.Timeouts{})
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func opener(url string) func(t *testing.T) featurestore.OnlineStore {
	return func(t *testing.T) featurestore.OnlineStore { return open(t, url) }
}

func TestSingleNode(t *testing.T) {
	url := redistest.StartServer(t)
	t.Run("Conformance", func(t *testing.T) { storetest.Run(t, opener(url)) })
	// A prefix with glob specials, to check SCAN patterns escape it.
	t.Run("ConformancePrefix", func(t *testing.T) { storetest.Run(t, opener(url+"?prefix=t%2A%3F%5B%5D%5C1%3A")) })
	// The client-side cache off, and one so small that it evicts.
	t.Run("ConformanceUncached", func(t *testing.T) { storetest.Run(t, opener(url+"?client_cache=0")) })
	t.Run("ConformanceSmallCache", func(t *testing.T) { storetest.Run(t, opener(url+"?client_cache=4KiB&prefix=s")) })
	// Round trips of the uncached path (TestClientCache counts the cached
	// path's).
	t.Run("RoundTrips", func(t *testing.T) { testRoundTrips(t, open(t, url+"?client_cache=0"), 1) })
	t.Run("ServerCPU", func(t *testing.T) { testServerCPU(t, open(t, url)) })
	t.Run("Prefix", func(t *testing.T) { testPrefix(t, url) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, url) })
	t.Run("ScriptFlushed", func(t *testing.T) { testScriptFlushed(t, url) })
	t.Run("ClusterURLOnSingleNode", func(t *testing.T) {
		cfg, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		s, err := redis.Open("redis-cluster://"+cfg.Addrs[0], redis.Timeouts{})
		if err == nil {
			s.Close()
			t.Fatal("Open of a cluster URL on a single node succeeded")
		}
		t.Log(err)
		if !strings.Contains(err.Error(), "cannot reach redis at "+cfg.Addrs[0]) {
			t.Errorf("error %q does not name the address", err)
		}
	})
}

// testScriptFlushed checks Update works when Redis has lost the
// compare-and-set script (a restart, a failover, SCRIPT FLUSH).
func testScriptFlushed(t *testing.T, url string) {
	cfg, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: cfg.Addrs[0], Protocol: 2})
	defer rdb.Close()
	s := open(t, url)
	ctx := context.Background()
	keys := [][]byte{[]byte("e\x00\x00\x00\x03flush-a"), []byte("e\x00\x00\x00\x03flush-b")}
	incr := func(_ int, old []byte) ([]byte, error) { return append(old, 'x'), nil }
	for round := 1; round <= 3; round++ {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, keys, 0, incr); err != nil {
			t.Fatalf("Update after SCRIPT FLUSH: %v", err)
		}
		err := s.Get(ctx, keys, func(i int, v []byte) {
			if len(v) != round {
				t.Errorf("round %d: keys[%d] = %q", round, i, v)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCluster(t *testing.T) {
	url := redistest.StartCluster(t, 3)
	t.Run("Conformance", func(t *testing.T) { storetest.Run(t, opener(url)) })
	t.Run("RoundTrips", func(t *testing.T) { testRoundTrips(t, open(t, url), 3) })
	t.Run("ServerCPU", func(t *testing.T) { testServerCPU(t, open(t, url)) })
	t.Run("SameEntitySameSlot", func(t *testing.T) { testSameEntitySameSlot(t, url) })
	t.Run("Prefix", func(t *testing.T) { testPrefix(t, url) })
}

// testRoundTrips checks a batch of 100 keys costs one request per node it
// touches, at most nodes.
func testRoundTrips(t *testing.T, s *redis.Store, nodes int64) {
	ctx := context.Background()
	keys := make([][]byte, 100)
	vals := make([][]byte, 100)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "e\x00\x00\x00\x01rt-%d", i)
		vals[i] = []byte("v")
	}
	measure := func(op string, want int64, fn func() error) {
		t.Helper()
		// Once to warm up: connections, cluster state, the script cache.
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		before := s.RoundTrips()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		got := s.RoundTrips() - before
		if got < 1 || got > want {
			t.Errorf("%s of 100 keys took %d round trips, want 1 to %d", op, got, want)
		}
		t.Logf("%s of 100 keys: %d round trips", op, got)
	}
	measure("Put", nodes, func() error { return s.Put(ctx, keys, vals, 0) })
	measure("Get", nodes, func() error { return s.Get(ctx, keys, func(int, []byte) {}) })
	// Update: one read and one compare-and-set request per node.
	measure("Update", 2*nodes, func() error {
		return s.Update(ctx, keys, 0, func(int, []byte) ([]byte, error) { return []byte("w"), nil })
	})
	measure("Delete", nodes, func() error { return s.Delete(ctx, keys) })
	if nodes == 1 {
		// Exactly one, the number the benchmarks report per request.
		before := s.RoundTrips()
		if err := s.Get(ctx, keys, func(int, []byte) {}); err != nil {
			t.Fatal(err)
		}
		if got := s.RoundTrips() - before; got != 1 {
			t.Errorf("single-node Get took %d round trips, want 1", got)
		}
	}
}

// testPrefix checks two stores with different prefixes on one Redis do
// not see each other's keys.
func testPrefix(t *testing.T, url string) {
	ctx := context.Background()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	a, b := open(t, url+sep+"prefix=a%3A"), open(t, url+sep+"prefix=b%3A")
	key := []byte("e\x00\x00\x00\x02prefix-test")
	if err := a.Put(ctx, [][]byte{key}, [][]byte{[]byte("A")}, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Get(ctx, [][]byte{key}, func(int, []byte) { t.Error("store b sees store a's key") }); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := a.Scan(ctx, key[:5], func(k, v []byte) error {
		seen = append(seen, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := string(key) + "=A"; len(seen) != 1 || seen[0] != want {
		t.Errorf("Scan through the prefixed store = %q, want [%q]", seen, want)
	}
	if err := b.Scan(ctx, key[:5], func(k, _ []byte) error {
		t.Errorf("store b scans store a's key %q", k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// testSameEntitySameSlot checks one entity's keys in different views hash
// to one slot, and different entities spread.
func testSameEntitySameSlot(t *testing.T, url string) {
	cfg, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, url)
	ctx := context.Background()
	var keys [][]byte
	for view := range 4 {
		for entity := range 50 {
			keys = append(keys, fmt.Appendf([]byte{'e', 0, 0, 0, byte(view)}, "entity-%d", entity))
		}
	}
	vals := make([][]byte, len(keys))
	for i := range vals {
		vals[i] = []byte("v")
	}
	if err := s.Put(ctx, keys, vals, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Delete(ctx, keys) })

	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cfg.Addrs, Protocol: 2})
	defer rdb.Close()
	var (
		mu    sync.Mutex
		rkeys []string // the Redis keys, found on every master
	)
	err = rdb.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		ks, err := node.Keys(ctx, "*entity-*").Result()
		mu.Lock()
		rkeys = append(rkeys, ks...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slotOf := map[string]int64{} // entity → slot
	slots := map[int64]bool{}
	if len(rkeys) != len(keys) {
		t.Fatalf("found %d Redis keys, want %d", len(rkeys), len(keys))
	}
	for _, rk := range rkeys {
		if len(rk) < 15 || rk[0] != '{' || rk[9] != '}' {
			t.Fatalf("Redis key %q is not {hash}key", rk)
		}
		entity := rk[15:]
		slot, err := rdb.ClusterKeySlot(ctx, rk).Result()
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := slotOf[entity]; ok && prev != slot {
			t.Errorf("entity %q in slots %d and %d", entity, prev, slot)
		}
		slotOf[entity] = slot
		slots[slot] = true
	}
	if len(slots) < 10 {
		t.Errorf("50 entities in only %d slots", len(slots))
	}
}

func testClosed(t *testing.T, url string) {
	s, err := redis.Open(url, redis.Timeouts{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Get(context.Background(), [][]byte{[]byte("k")}, func(int, []byte) {}); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
}

// closedPort returns a loopback port nothing listens on (a moment ago).
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return strconv.Itoa(port)
}

func TestUnreachable(t *testing.T) {
	p := closedPort(t)
	tests := []struct {
		url, addr string
		t         redis.Timeouts
	}{
		{"redis://127.0.0.1:1/0", "127.0.0.1:1", redis.Timeouts{}},
		{"redis://127.0.0.1:" + p + "/0", "127.0.0.1:" + p, redis.Timeouts{}},
		{"redis-cluster://127.0.0.1:" + p, "127.0.0.1:" + p, redis.Timeouts{}},
		{"redis-cluster://127.0.0.1:1,127.0.0.1:" + p, "127.0.0.1:1,127.0.0.1:" + p, redis.Timeouts{}},
		// TEST-NET-1: nothing answers; the dial either fails at once or
		// times out.
		{"redis://192.0.2.1:6379/0", "192.0.2.1:6379", redis.Timeouts{Dial: 300 * time.Millisecond}},
		{"redis-cluster://192.0.2.1:6379", "192.0.2.1:6379", redis.Timeouts{Dial: 300 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			start := time.Now()
			s, err := redis.Open(tc.url, tc.t)
			elapsed := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			t.Logf("after %v: %v", elapsed, err)
			if want := "cannot reach redis at " + tc.addr; !strings.Contains(err.Error(), want) {
				t.Errorf("Open(%q) = %q, want it to contain %q", tc.url, err, want)
			}
			if !errors.Is(err, redis.ErrUnavailable) {
				t.Errorf("Open(%q) = %v, not ErrUnavailable", tc.url, err)
			}
			// Generous, to catch a hang rather than time the dial.
			if elapsed > 20*time.Second {
				t.Errorf("Open(%q) took %v", tc.url, elapsed)
			}
		})
	}
}

// BenchmarkGet100 reads 100 present keys with one Get.
//
// Compare runs with:
//
//	go test ./featurestore/redis -run '^$' -bench Get100 -benchmem -count 10 > new.txt
//	benchstat old.txt new.txt
func BenchmarkGet100(b *testing.B) {
	single := redistest.StartServer(b)
	cluster := redistest.StartCluster(b, 3)
	for _, bc := range []struct{ name, url string }{
		{"mode=single", single},
		{"mode=cluster", cluster},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := open(b, bc.url)
			ctx := context.Background()
			keys := make([][]byte, 100)
			vals := make([][]byte, 100)
			for i := range keys {
				keys[i] = fmt.Appendf([]byte{'e', 0, 0, 0, 1}, "bench-entity-%06d", i)
				vals[i] = make([]byte, 64)
			}
			if err := s.Put(ctx, keys, vals, 0); err != nil {
				b.Fatal(err)
			}
			found := 0
			fn := func(int, []byte) { found++ }
			if err := s.Get(ctx, keys, fn); err != nil { // warm up
				b.Fatal(err)
			}
			found = 0
			b.ReportAllocs()
			before, n := s.RoundTrips(), 0
			for b.Loop() {
				if err := s.Get(ctx, keys, fn); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(s.RoundTrips()-before)/float64(n), "roundtrips/op")
			if found != 100*n {
				b.Fatalf("found %d values in %d Gets of 100 present keys", found, n)
			}
		})
	}
}

// testServerCPU checks the Redis CPU clock is read and moves with work.
func testServerCPU(t *testing.T, s *redis.Store) {
	ctx := context.Background()
	before, err := s.ServerCPU(ctx)
	if err != nil || before <= 0 {
		t.Fatalf("ServerCPU = %s, %v", before, err)
	}
	keys := make([][]byte, 100)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "e\x00\x00\x00\x01cpu-%d", i)
	}
	for range 500 {
		if err := s.Get(ctx, keys, func(int, []byte) {}); err != nil {
			t.Fatal(err)
		}
	}
	after, err := s.ServerCPU(ctx)
	if err != nil || after <= before {
		t.Fatalf("ServerCPU after 500 reads = %s (before %s), %v", after, before, err)
	}
}
