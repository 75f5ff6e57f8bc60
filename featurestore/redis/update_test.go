package redis_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fstore/fstore/featurestore/redis"
	"github.com/fstore/fstore/internal/redistest"
)

// TestUpdateNotResentAfterLostReply checks a compare-and-set whose reply is
// lost is not resent: Redis applied it, so a resend would fail its
// comparison against its own write and Update would call fn again on the
// value fn produced, counting an increment twice.
func TestUpdateNotResentAfterLostReply(t *testing.T) {
	url := redistest.StartServer(t)
	cfg, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p := newDropProxy(t, cfg.Addrs[0])
	s := open(t, "redis://"+p.addr()+"/0")
	ctx := context.Background()
	incr := func(_ int, old []byte) ([]byte, error) {
		n := 0
		if old != nil {
			n, _ = strconv.Atoi(string(old))
		}
		return strconv.AppendInt(nil, int64(n+1), 10), nil
	}
	key := [][]byte{[]byte("e\x00\x00\x00\x04lost-reply")}
	// Warm up: the script gets cached, so the next Update sends EVALSHA.
	if err := s.Update(ctx, [][]byte{[]byte("e\x00\x00\x00\x04warm")}, 0, incr); err != nil {
		t.Fatal(err)
	}

	p.dropNextScriptReply.Store(true)
	if err := s.Update(ctx, key, 0, incr); err == nil {
		t.Error("Update whose reply was lost succeeded; want an error")
	} else if !errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("Update whose reply was lost = %v, not ErrUnavailable", err)
	}
	check := func(want string) {
		t.Helper()
		var got string
		if err := s.Get(ctx, key, func(_ int, v []byte) { got = string(v) }); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("counter = %q, want %q", got, want)
		}
	}
	check("1") // applied once, not twice
	if err := s.Update(ctx, key, 0, incr); err != nil {
		t.Fatalf("Update after the lost reply: %v", err)
	}
	check("2")
}

// dropProxy forwards TCP to a Redis, and can close a client's connection
// instead of forwarding the reply to its next script call.
type dropProxy struct {
	l                   net.Listener
	dropNextScriptReply atomic.Bool
	wg                  sync.WaitGroup
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{l: l}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			var script atomic.Bool // a script call is awaiting its reply
			p.wg.Go(func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if bytes.Contains(bytes.ToLower(buf[:n]), []byte("evalsha")) && p.dropNextScriptReply.Load() {
							script.Store(true)
						}
						if _, err := s.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						s.Close()
						return
					}
				}
			})
			p.wg.Go(func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 && script.Load() && p.dropNextScriptReply.CompareAndSwap(true, false) {
						c.Close() // Redis ran the script; its client never hears of it
						s.Close()
						return
					}
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						c.Close()
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *dropProxy) addr() string { return p.l.Addr().String() }
