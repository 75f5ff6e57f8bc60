package serve

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fstore/fstore/compute/model"
)

// BatchPolicy configures a model version's dynamic batcher, with Triton's
// dynamic-batching and queue-policy semantics. Zero fields take defaults.
type BatchPolicy struct {
	// MaxBatchSize bounds the rows of one coalesced batch. A single request
	// larger than it runs alone. Default 256.
	MaxBatchSize int
	// MaxQueueDelay is how long the batcher holds a batch open for more
	// requests after its first one arrived. 0 (the default) batches only
	// what is already queued: an idle server adds no delay, and under load
	// requests queue while the previous batch runs, so batches grow.
	MaxQueueDelay time.Duration
	// MaxQueueSize bounds the requests waiting; beyond it requests are
	// rejected at once (ErrQueueFull, 503). Default 1024.
	MaxQueueSize int
	// Timeout bounds a request's wait in the queue: a request not taken
	// into a batch by then is rejected (504), never left waiting. Default
	// 1s; a request's own deadline, when sooner, wins.
	Timeout time.Duration
	// Instances is the number of batches run concurrently (Triton's
	// instance count). A batch runs on one core (the engine keeps each
	// pass on gonum's serial path), so the default is GOMAXPROCS: every
	// core can run a batch while calls queue for the next.
	Instances int
}

// Validate reports a negative field (zero means the default).
func (p *BatchPolicy) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"max batch size", int64(p.MaxBatchSize)}, {"max queue delay", int64(p.MaxQueueDelay)}, {"max queue size", int64(p.MaxQueueSize)},
		{"queue timeout", int64(p.Timeout)}, {"model instances", int64(p.Instances)}} {
		if f.v < 0 {
			return fmt.Errorf("serve: batching: %s is negative", f.name)
		}
	}
	return nil
}

// EnsureDefaults fills unset fields.
func (p *BatchPolicy) EnsureDefaults() {
	if p.MaxBatchSize <= 0 {
		p.MaxBatchSize = 256
	}
	if p.MaxQueueSize <= 0 {
		p.MaxQueueSize = 1024
	}
	if p.Timeout <= 0 {
		p.Timeout = time.Second
	}
	if p.Instances <= 0 {
		p.Instances = runtime.GOMAXPROCS(0)
	}
}

var (
	// ErrQueueFull is returned when a model's batching queue is full; it
	// maps to 503.
	ErrQueueFull = errors.New("serve: model queue is full")
	// ErrModelUnavailable marks a model version that is registered but
	// cannot be served by this process (its artifact failed to load); it
	// maps to 503.
	ErrModelUnavailable = errors.New("serve: model not servable")
	// errQueueTimeout is a request rejected after waiting Timeout in the
	// queue; it maps to 504 like every deadline.
	errQueueTimeout = fmt.Errorf("serve: rejected after waiting in the model's queue past its timeout: %w", context.DeadlineExceeded)
	errBatcherDone  = fmt.Errorf("%w: the model is being unloaded", ErrModelUnavailable)
)

// Call states: a call is pending in the queue until the batcher takes it
// or its caller gives up; whichever moves it first wins, so a caller that
// timed out never has its buffers touched afterwards.
const (
	callPending int32 = iota
	callTaken
	callAbandoned
)

// inferCall is one request's rows for a batcher. Callers own x and out;
// the batcher reads x and writes out only between taking the call and
// signalling done. Calls are pooled with their timer and channel.
type inferCall struct {
	x     []float32 // rows × inputs
	rows  int
	out   []float32 // rows
	state atomic.Int32
	err   error
	done  chan struct{}
	timer *time.Timer
	// deadline is when the call stops waiting in the queue.
	deadline time.Time
}

var callPool = sync.Pool{New: func() any {
	c := &inferCall{done: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	c.timer.Stop()
	return c
}}

// batcher coalesces concurrent calls for one model version into batches
// for its engine.
type batcher struct {
	eng   *model.Engine
	nin   int
	pol   BatchPolicy
	queue chan *inferCall
	// slots holds one token per batch running (at most Instances): a
	// batch, queued or inline, runs only while holding one.
	slots chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
	// batches and rows count what ran, for metrics and tests.
	batches, rows atomic.Int64
}

func newBatcher(eng *model.Engine, pol BatchPolicy) *batcher {
	pol.EnsureDefaults()
	b := &batcher{eng: eng, nin: len(eng.Model().Inputs), pol: pol, queue: make(chan *inferCall, pol.MaxQueueSize),
		slots: make(chan struct{}, pol.Instances), stop: make(chan struct{})}
	for range pol.Instances {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

// close stops the batcher after the batches in flight; queued calls are
// rejected.
func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
	for {
		select {
		case c := <-b.queue:
			if c.state.CompareAndSwap(callPending, callTaken) {
				c.finish(errBatcherDone)
			}
		default:
			return
		}
	}
}

// infer runs rows×inputs values x through the model into out[:rows],
// batched with other callers'. It returns ErrQueueFull at once when the
// queue is full, and a deadline error when the call waited past the
// policy's timeout or deadline, whichever is sooner.
func (b *batcher) infer(x []float32, rows int, out []float32, deadline time.Time) error {
	if len(x) != rows*b.nin || len(out) < rows {
		return fmt.Errorf("%w: %d values for %d rows of %d inputs, %d outputs", model.ErrShape, len(x), rows, b.nin, len(out))
	}
	// An idle model (nothing queued, a batch slot free) runs the call at
	// once on the caller's goroutine: there is nothing to coalesce it with,
	// and the hand-off to the batcher and back would only add latency.
	// Under load the queue is not empty or every slot is taken, and calls
	// queue and coalesce as usual.
	if len(b.queue) == 0 {
		select {
		case b.slots <- struct{}{}:
			b.batches.Add(1)
			b.rows.Add(int64(rows))
			err := b.eng.Predict(x, rows, out[:rows])
			<-b.slots
			return err
		default:
		}
	}
	c := callPool.Get().(*inferCall)
	c.x, c.rows, c.out, c.err = x, rows, out[:rows], nil
	c.state.Store(callPending)
	now := time.Now()
	c.deadline = now.Add(b.pol.Timeout)
	if !deadline.IsZero() && deadline.Before(c.deadline) {
		c.deadline = deadline
	}
	select {
	case b.queue <- c:
	default:
		c.release()
		return fmt.Errorf("%w (%d requests waiting)", ErrQueueFull, b.pol.MaxQueueSize)
	}
	c.timer.Reset(c.deadline.Sub(now))
	select {
	case <-c.done:
	case <-c.timer.C:
		if c.state.CompareAndSwap(callPending, callAbandoned) {
			// The batcher will skip it; it is not ours to pool any more
			// because the queue may still hold it.
			return errQueueTimeout
		}
		<-c.done
	}
	c.timer.Stop()
	err := c.err
	c.release()
	return err
}

func (c *inferCall) finish(err error) {
	c.err = err
	c.done <- struct{}{}
}

func (c *inferCall) release() {
	c.x, c.out = nil, nil
	callPool.Put(c)
}

// run is one instance: it takes the oldest pending call, adds whatever
// else fits (waiting up to MaxQueueDelay from the first), and runs them as
// one batch.
func (b *batcher) run() {
	defer b.wg.Done()
	var (
		batch []*inferCall
		x     []float32
		out   []float32
		carry *inferCall
		delay = time.NewTimer(time.Hour)
	)
	delay.Stop()
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-b.queue:
			case <-b.stop:
				return
			}
		}
		if !b.take(first) {
			continue
		}
		batch = append(batch[:0], first)
		rows := first.rows
		if b.pol.MaxQueueDelay > 0 {
			delay.Reset(b.pol.MaxQueueDelay)
		}
	gather:
		for rows < b.pol.MaxBatchSize {
			var c *inferCall
			select {
			case c = <-b.queue:
			default:
				if b.pol.MaxQueueDelay <= 0 {
					break gather
				}
				select {
				case c = <-b.queue:
				case <-delay.C:
					break gather
				case <-b.stop:
					break gather
				}
			}
			if c.state.Load() != callPending {
				continue
			}
			if rows+c.rows > b.pol.MaxBatchSize {
				carry = c // first of the next batch
				break
			}
			if b.take(c) {
				batch = append(batch, c)
				rows += c.rows
			}
		}
		delay.Stop()
		b.slots <- struct{}{}
		x, out = b.execute(batch, rows, x, out)
		<-b.slots
	}
}

// take claims a call for a batch; it fails for a call its caller
// abandoned, or one whose deadline passed while it waited.
func (b *batcher) take(c *inferCall) bool {
	if time.Now().After(c.deadline) {
		if c.state.CompareAndSwap(callPending, callTaken) {
			c.finish(errQueueTimeout)
		}
		return false
	}
	return c.state.CompareAndSwap(callPending, callTaken)
}

// execute runs one batch. A single call runs on its own buffers; several
// are copied into one input tensor and their outputs copied back.
func (b *batcher) execute(batch []*inferCall, rows int, x, out []float32) ([]float32, []float32) {
	b.batches.Add(1)
	b.rows.Add(int64(rows))
	if len(batch) == 1 {
		c := batch[0]
		c.finish(b.eng.Predict(c.x, c.rows, c.out))
		return x, out
	}
	x, out = x[:0], grow32(out, rows)
	for _, c := range batch {
		x = append(x, c.x...)
	}
	err := b.eng.Predict(x, rows, out)
	off := 0
	for _, c := range batch {
		if err == nil {
			copy(c.out, out[off:off+c.rows])
		}
		off += c.rows
		c.finish(err)
	}
	return x, out
}

func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
