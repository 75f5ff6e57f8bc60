package serve

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is a feature request's context: the server's base context
// bounded by the request's deadline, as context.WithDeadline makes it, but
// reusable and lazy. context.WithTimeout costs a timer and four
// allocations per request; a deadlineCtx arms nothing until something
// asks for Done. Err compares the clock with the deadline instead, so a
// store that only polls Err (Pebble) costs no timer at all, and one that
// selects on Done (go-redis's pool) gets a channel closed at the deadline,
// as with WithTimeout.
//
// Reuse: a request reuses its deadlineCtx only if Done was never called.
// Once its channel has been handed out, a watcher (a timer, a derived
// context) may still hold it after the request ended, so the next request
// gets a fresh one and the old one is left to them.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	mu   sync.Mutex
	done chan struct{} // made by Done; closed when err is set
	err  error
	// lent reports that Done was called: the context must not be reused.
	lent        bool
	timer       *time.Timer
	stopWatcher func() bool // stops the watch of parent, when one runs
}

// startDeadline returns a context for a request that ends at deadline or
// when parent ends, reusing *c when it can.
func startDeadline(c **deadlineCtx, parent context.Context, deadline time.Time) *deadlineCtx {
	if *c == nil || (*c).lent {
		*c = new(deadlineCtx)
	}
	d := *c
	d.parent, d.deadline, d.err = parent, deadline, nil
	return d
}

// end releases what Done armed, once the request is done with c.
func (c *deadlineCtx) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stopWatcher != nil {
		c.stopWatcher()
	}
	if c.err == nil {
		c.endLocked(context.Canceled) // as a cancel func would
	}
}

// Deadline implements context.Context.
func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Value implements context.Context.
func (c *deadlineCtx) Value(key any) any { return c.parent.Value(key) }

// Err implements context.Context: the parent's error, or
// DeadlineExceeded once the deadline has passed.
func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		if err := c.parent.Err(); err != nil {
			c.endLocked(err)
		} else if !time.Now().Before(c.deadline) {
			c.endLocked(context.DeadlineExceeded)
		}
	}
	return c.err
}

// Done implements context.Context. The first call makes the channel and
// arms a timer for the deadline and a watch of the parent.
func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.lent = true
	c.done = make(chan struct{})
	if c.err == nil {
		// As context.WithDeadline: what has already ended is Done at once.
		if err := c.parent.Err(); err != nil {
			c.err = err
		} else if !time.Now().Before(c.deadline) {
			c.err = context.DeadlineExceeded
		}
	}
	if c.err != nil {
		close(c.done)
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.expire(context.DeadlineExceeded) })
	if c.parent.Done() != nil {
		c.stopWatcher = context.AfterFunc(c.parent, func() { c.expire(c.parent.Err()) })
	}
	return c.done
}

// expire ends c with err: DeadlineExceeded at its deadline, the parent's
// error when the parent ended first.
func (c *deadlineCtx) expire(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.endLocked(err)
}

func (c *deadlineCtx) endLocked(err error) {
	c.err = err
	if c.done != nil {
		close(c.done)
	}
}
