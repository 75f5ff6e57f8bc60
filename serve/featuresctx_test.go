package serve

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fstore/fstore/featurestore"
)

func TestDeadlineCtx(t *testing.T) {
	var slot *deadlineCtx
	// Polled only: Err turns at the deadline, with no timer.
	c := startDeadline(&slot, context.Background(), time.Now().Add(20*time.Millisecond))
	if err := c.Err(); err != nil {
		t.Fatalf("Err before the deadline: %v", err)
	}
	if d, ok := c.Deadline(); !ok || time.Until(d) > 20*time.Millisecond {
		t.Fatalf("Deadline %v %v", d, ok)
	}
	time.Sleep(25 * time.Millisecond)
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline: %v", err)
	}
	if c.timer != nil || c.lent {
		t.Fatal("polling armed a timer")
	}
	c.end()
	if again := startDeadline(&slot, context.Background(), time.Now().Add(time.Hour)); again != c || again.Err() != nil {
		t.Fatalf("a context never lent is not reused fresh: %p %p %v", again, c, again.Err())
	}

	// Waited on: Done closes at the deadline, and a derived context ends too.
	c = startDeadline(&slot, context.Background(), time.Now().Add(20*time.Millisecond))
	child, cancel := context.WithCancel(c)
	defer cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close at the deadline")
	}
	<-child.Done()
	if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err %v, child %v", c.Err(), child.Err())
	}
	c.end()
	if again := startDeadline(&slot, context.Background(), time.Now().Add(time.Hour)); again == c {
		t.Fatal("a context whose Done was lent is reused")
	}

	// The parent ending ends it, before the deadline.
	parent, stop := context.WithCancel(context.Background())
	c = startDeadline(&slot, parent, time.Now().Add(time.Hour))
	done := c.Done()
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close with the parent")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("Err after the parent ended: %v", c.Err())
	}
	c.end()

	// Ended before Done is asked for: Done is closed at once.
	c = startDeadline(&slot, context.Background(), time.Now().Add(-time.Second))
	select {
	case <-c.Done():
	default:
		t.Fatal("Done of an expired context is open")
	}
	c.end()
}

// slowStore answers reads only after the request's deadline: by waiting
// on Done (as go-redis's pool does) or by sleeping and then polling Err
// (as Pebble does).
type slowStore struct {
	featurestore.OnlineStore
	wait bool
}

func (s slowStore) Get(ctx context.Context, keys [][]byte, fn func(int, []byte)) error {
	if s.wait {
		<-ctx.Done()
		return ctx.Err()
	}
	d, _ := ctx.Deadline()
	time.Sleep(time.Until(d) + 5*time.Millisecond)
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.OnlineStore.Get(ctx, keys, fn)
}

// TestRequestTimeout: a read that outlives the request timeout answers
// 504, whether the store waits on the context or polls it.
func TestRequestTimeout(t *testing.T) {
	fs := wideServer(t, 10, 2)
	fs.lim.RequestTimeout = 30 * time.Millisecond
	inner := fs.store
	for _, wait := range []bool{true, false} {
		fs.store = slowStore{OnlineStore: inner, wait: wait}
		var ctx fasthttp.RequestCtx
		for range 3 { // reused contexts too
			start := time.Now()
			call(fs, &ctx, []byte(`{"features":["wide:f1"],"entities":{"entity_id":[1,2]}}`))
			if code := ctx.Response.StatusCode(); code != fasthttp.StatusGatewayTimeout {
				t.Fatalf("wait=%v: status %d %s, want 504", wait, code, ctx.Response.Body())
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("wait=%v: took %v", wait, took)
			}
		}
	}
	fs.store = inner
	var ctx fasthttp.RequestCtx
	call(fs, &ctx, []byte(`{"features":["wide:f1"],"entities":{"entity_id":[1,2]}}`))
	if code := ctx.Response.StatusCode(); code != 200 {
		t.Fatalf("status %d after the timeouts", code)
	}
}
