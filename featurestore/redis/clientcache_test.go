package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fstore/fstore/featurestore/redis"
	"github.com/fstore/fstore/internal/redistest"
)

// TestClientCache checks the single node's client-side cache against a
// real redis-server: hits cost no round trip, and every way a value can
// change under it — another process's write, a write by a client that is
// not fstore, a ttl running out, FLUSHDB, a lost tracker — is seen.
func TestClientCache(t *testing.T) {
	url := redistest.StartServer(t)
	raw := rawClient(t, url)
	ctx := context.Background()
	// Without active expiry, an expired key stays in Redis until it is
	// read, and Redis sends no invalidation for it: only the expiry the
	// cache keeps hides it.
	if err := raw.Do(ctx, "debug", "set-active-expire", "0").Err(); err != nil {
		t.Fatal(err)
	}

	t.Run("Hits", func(t *testing.T) {
		s := open(t, url)
		keys, vals := cacheKeys("hits", 100)
		if err := s.Put(ctx, keys, vals, 0); err != nil {
			t.Fatal(err)
		}
		got := readAll(t, s, keys) // misses: read and cached
		for i := range keys {
			if !bytes.Equal(got[i], vals[i]) {
				t.Fatalf("key %d: got %q, want %q", i, got[i], vals[i])
			}
		}
		warm(t, s, keys)
		before, st0 := s.RoundTrips(), s.ClientCache()
		got = readAll(t, s, keys)
		if n := s.RoundTrips() - before; n != 0 {
			t.Errorf("a warm Get of 100 keys took %d round trips, want 0", n)
		}
		for i := range keys {
			if !bytes.Equal(got[i], vals[i]) {
				t.Fatalf("cached key %d: got %q, want %q", i, got[i], vals[i])
			}
		}
		st := s.ClientCache()
		if !st.Live || st.Size != redis.DefaultClientCache || st.Hits-st0.Hits != 100 || st.Entries < 100 {
			t.Errorf("stats %+v (before: %+v): want live, default size, 100 more hits, ≥ 100 entries", st, st0)
		}
		// Absent keys are cached too.
		absent := [][]byte{[]byte("e\x00\x00\x00\x09hits-absent")}
		readAll(t, s, absent)
		warm(t, s, absent)
		before = s.RoundTrips()
		if got := readAll(t, s, absent); got[0] != nil {
			t.Errorf("absent key read %q", got[0])
		}
		if n := s.RoundTrips() - before; n != 0 {
			t.Errorf("a warm Get of an absent key took %d round trips, want 0", n)
		}
	})

	t.Run("OtherWriters", func(t *testing.T) {
		a, b := open(t, url), open(t, url)
		keys, vals := cacheKeys("other", 10)
		if err := a.Put(ctx, keys, vals, 0); err != nil {
			t.Fatal(err)
		}
		absent := []byte("e\x00\x00\x00\x09other-absent")
		all := append(keys, absent)
		warm(t, a, all)
		// Another fstore process writes one key and creates the absent one.
		if err := b.Put(ctx, [][]byte{keys[3], absent}, [][]byte{[]byte("by-b"), []byte("new")}, 0); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a sees b's writes", func() bool {
			got := readAll(t, a, all)
			return string(got[3]) == "by-b" && string(got[10]) == "new"
		})
		// A client that is not fstore writes the Redis key directly.
		if err := raw.Set(ctx, string(keys[5]), "by-raw", 0).Err(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a sees a raw SET", func() bool { return string(readAll(t, a, keys)[5]) == "by-raw" })
		if err := raw.Del(ctx, string(keys[6])).Err(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a sees a raw DEL", func() bool { return readAll(t, a, keys)[6] == nil })
		// This process's own writes are seen at once, invalidation or not.
		for i, write := range []func() error{
			func() error { return a.Put(ctx, keys[:1], [][]byte{[]byte("mine")}, 0) },
			func() error {
				return a.Update(ctx, keys[:1], 0, func(int, []byte) ([]byte, error) { return []byte("updated"), nil })
			},
			func() error { return a.Delete(ctx, keys[:1]) },
		} {
			readAll(t, a, keys[:1])
			if err := write(); err != nil {
				t.Fatal(err)
			}
			want := []string{"mine", "updated", ""}[i]
			if got := string(readAll(t, a, keys[:1])[0]); got != want {
				t.Errorf("read after own write %d: %q, want %q", i, got, want)
			}
		}
		if st := a.ClientCache(); st.Invalidations == 0 {
			t.Errorf("stats %+v: no invalidation counted", st)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		s := open(t, url)
		keys, vals := cacheKeys("expiry", 5)
		if err := s.Put(ctx, keys[:1], vals[:1], 400*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, keys[1:], vals[1:], 0); err != nil {
			t.Fatal(err)
		}
		warm(t, s, keys)
		if got := readAll(t, s, keys); !bytes.Equal(got[0], vals[0]) {
			t.Fatalf("before expiry: %q", got[0])
		}
		time.Sleep(500 * time.Millisecond)
		got := readAll(t, s, keys)
		if got[0] != nil {
			t.Errorf("expired key served from the cache: %q", got[0])
		}
		for i := 1; i < len(keys); i++ {
			if !bytes.Equal(got[i], vals[i]) {
				t.Errorf("key %d without ttl: %q, want %q", i, got[i], vals[i])
			}
		}
	})

	t.Run("FlushDB", func(t *testing.T) {
		s := open(t, url)
		keys, vals := cacheKeys("flush", 10)
		if err := s.Put(ctx, keys, vals, 0); err != nil {
			t.Fatal(err)
		}
		warm(t, s, keys) // cached: only the flush can hide them
		flushes := s.ClientCache().Flushes
		if err := raw.FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the flush is seen", func() bool {
			for _, v := range readAll(t, s, keys) {
				if v != nil {
					return false
				}
			}
			return true
		})
		if st := s.ClientCache(); st.Flushes == flushes {
			t.Errorf("stats %+v: the keys read absent without a flush", st)
		}
	})

	t.Run("TrackerLost", func(t *testing.T) {
		s := open(t, url)
		keys, vals := cacheKeys("lost", 10)
		if err := s.Put(ctx, keys, vals, 0); err != nil {
			t.Fatal(err)
		}
		readAll(t, s, keys)
		// Kill the tracker (the only pub/sub client), then write behind
		// its back: the write must be seen, by the reads that bypass the
		// cache while it is lost or by the flush when it is back.
		if err := raw.Do(ctx, "client", "kill", "type", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		if err := raw.Set(ctx, string(keys[0]), "behind", 0).Err(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the write behind the lost tracker is seen", func() bool {
			return string(readAll(t, s, keys)[0]) == "behind"
		})
		eventually(t, "the tracker reconnects", func() bool {
			st := s.ClientCache()
			return st.Live && st.Connects == 2
		})
		// Tracking again: hits, and invalidations.
		warm(t, s, keys)
		if err := raw.Set(ctx, string(keys[1]), "after", 0).Err(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a write after reconnecting is seen", func() bool {
			return string(readAll(t, s, keys)[1]) == "after"
		})
	})

	t.Run("Refused", func(t *testing.T) {
		// A user that may not run CLIENT: the store works, uncached, and
		// says why.
		if err := raw.Do(ctx, "acl", "setuser", "noclient", "on", ">pw", "~*", "&*", "+@all", "-client").Err(); err != nil {
			t.Fatal(err)
		}
		s := open(t, strings.Replace(url, "redis://", "redis://noclient:pw@", 1))
		st := s.ClientCache()
		if st.Live || !strings.Contains(st.Off, "NOPERM") {
			t.Errorf("stats %+v: want off with NOPERM", st)
		}
		keys, vals := cacheKeys("refused", 3)
		if err := s.Put(ctx, keys, vals, 0); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, keys); !bytes.Equal(got[2], vals[2]) {
			t.Errorf("read %q, want %q", got[2], vals[2])
		}
	})

	t.Run("Off", func(t *testing.T) {
		s := open(t, url+"?client_cache=0")
		if st := s.ClientCache(); st != (redis.ClientCacheStats{}) {
			t.Errorf("client_cache=0: stats %+v", st)
		}
		keys, vals := cacheKeys("off", 3)
		if err := s.Put(ctx, keys, vals, 0); err != nil {
			t.Fatal(err)
		}
		readAll(t, s, keys)
		before := s.RoundTrips()
		readAll(t, s, keys)
		if n := s.RoundTrips() - before; n != 1 {
			t.Errorf("uncached Get took %d round trips, want 1", n)
		}
	})

	t.Run("Concurrent", func(t *testing.T) { testClientCacheConcurrent(t, url) })
}

// testClientCacheConcurrent has readers of one store and a writer in
// another hammer a few keys; once the writer stops, every reader must
// converge on the last values, and nothing may race.
func testClientCacheConcurrent(t *testing.T, url string) {
	ctx := context.Background()
	reader := open(t, url+"?client_cache=8KiB") // small: evicts, too
	writer := open(t, url)
	keys, _ := cacheKeys("conc", 16)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var last [16]int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; !stop.Load(); n++ {
			i := n % len(keys)
			if err := writer.Put(ctx, keys[i:i+1], [][]byte{fmt.Appendf(nil, "%d", n)}, 0); err != nil {
				t.Error(err)
				return
			}
			last[i] = n
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := reader.Get(ctx, keys, func(int, []byte) {}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	eventually(t, "readers converge on the last writes", func() bool {
		got := readAll(t, reader, keys)
		for i := range keys {
			if last[i] != 0 && string(got[i]) != fmt.Sprint(last[i]) {
				return false
			}
		}
		return true
	})
	if st := reader.ClientCache(); st.Hits == 0 || st.Invalidations == 0 {
		t.Errorf("stats %+v: want hits and invalidations", st)
	}
}

func cacheKeys(name string, n int) (keys, vals [][]byte) {
	for i := range n {
		keys = append(keys, fmt.Appendf(nil, "e\x00\x00\x00\x09%s-%d", name, i))
		vals = append(vals, fmt.Appendf(nil, "%s-value-%d", name, i))
	}
	return keys, vals
}

// readAll returns the values of keys, nil where absent.
func readAll(t *testing.T, s *redis.Store, keys [][]byte) [][]byte {
	t.Helper()
	out := make([][]byte, len(keys))
	err := s.Get(context.Background(), keys, func(i int, v []byte) { out[i] = bytes.Clone(v) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// warm reads keys until a Get of them takes no round trip: the first
// reads after a write can miss, as Redis's invalidations of the write
// arrive after the read cached the new values.
func warm(t *testing.T, s *redis.Store, keys [][]byte) {
	t.Helper()
	eventually(t, "keys cached", func() bool {
		before := s.RoundTrips()
		readAll(t, s, keys)
		return s.RoundTrips() == before
	})
}

// eventually polls cond for up to 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func rawClient(t *testing.T, url string) *goredis.Client {
	t.Helper()
	cfg, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: cfg.Addrs[0], Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClientCacheSilentTracker cuts the replies from Redis without closing
// any connection, as a network partition would: the tracker's pings go
// unanswered, and within the Read timeout the cache must stop being used,
// then come back once Redis answers again.
func TestClientCacheSilentTracker(t *testing.T) {
	url := redistest.StartServer(t)
	cfg, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p := startFreezingProxy(t, cfg.Addrs[0])
	cfg.Addrs = []string{p.addr()}
	s, err := redis.OpenConfig(cfg, redis.Timeouts{Read: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.ClientCache().Live {
		t.Fatal("not live after Open")
	}
	p.freeze(true)
	eventually(t, "the silent tracker is taken as lost", func() bool { return !s.ClientCache().Live })
	p.freeze(false)
	eventually(t, "the tracker is back", func() bool {
		st := s.ClientCache()
		return st.Live && st.Connects == 2
	})
}

// freezingProxy forwards TCP connections to a server; while frozen, it
// holds back everything the server sends.
type freezingProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	wg     sync.WaitGroup
	conns  []net.Conn
}

func startFreezingProxy(t *testing.T, upstream string) *freezingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); p.pipe(u, c, false) }()
			go func() { defer p.wg.Done(); p.pipe(c, u, true) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.freeze(false)
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezingProxy) addr() string { return p.ln.Addr().String() }

func (p *freezingProxy) freeze(on bool) {
	p.mu.Lock()
	p.frozen = on
	p.mu.Unlock()
	p.cond.Broadcast()
}

// pipe copies from src to dst; replies (from the server) wait while the
// proxy is frozen.
func (p *freezingProxy) pipe(dst, src net.Conn, reply bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && reply {
			p.mu.Lock()
			for p.frozen {
				p.cond.Wait()
			}
			p.mu.Unlock()
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
