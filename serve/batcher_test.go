package serve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/fstore/fstore/compute/model"
)

func testEngine(t testing.TB, nin int) *model.Engine {
	t.Helper()
	inputs := make([]string, nin)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("v__f%d", i)
	}
	eng, err := model.NewEngine(randomModel(t, inputs, []int{16, 8}, 7), nil)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestBatcherManyCallers runs many goroutines through one batcher, inline
// and queued as load decides: each gets exactly the engine's answer for
// its own rows.
func TestBatcherManyCallers(t *testing.T) {
	const nin, workers, calls = 5, 32, 40
	eng := testEngine(t, nin)
	b := newBatcher(eng, BatchPolicy{MaxBatchSize: 64, MaxQueueDelay: 2 * time.Millisecond})
	defer b.close()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for range calls {
				rows := 1 + rng.IntN(6)
				x := make([]float32, rows*nin)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * 10)
				}
				want := make([]float32, rows)
				if err := eng.Predict(x, rows, want); err != nil {
					errs <- err
					return
				}
				got := make([]float32, rows)
				if err := b.infer(x, rows, got, time.Time{}); err != nil {
					errs <- err
					return
				}
				for i := range got {
					if got[i] != want[i] {
						errs <- fmt.Errorf("worker %d: row %d = %v, want %v (another caller's row?)", w, i, got[i], want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d calls in %d batches (%.1f rows per batch)", workers*calls, b.batches.Load(), float64(b.rows.Load())/float64(b.batches.Load()))
}

// TestBatcherCoalescesQueued: calls that queue while the model is busy run
// as one batch once it frees, each caller getting its own rows.
func TestBatcherCoalescesQueued(t *testing.T) {
	const callers = 12
	b, free := stalledBatcher(t, BatchPolicy{MaxBatchSize: 64, Timeout: time.Minute})
	rng := rand.New(rand.NewPCG(1, 2))
	xs, wants := make([][]float32, callers), make([][]float32, callers)
	for i := range xs {
		rows := 1 + i%4
		xs[i] = make([]float32, rows*2)
		for k := range xs[i] {
			xs[i][k] = float32(rng.NormFloat64() * 5)
		}
		wants[i] = make([]float32, rows)
		if err := b.eng.Predict(xs[i], rows, wants[i]); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, callers)
	for i := range callers {
		go func() {
			got := make([]float32, len(wants[i]))
			if err := b.infer(xs[i], len(wants[i]), got, time.Time{}); err != nil {
				errs <- err
				return
			}
			for k := range got {
				if got[k] != wants[i][k] {
					errs <- fmt.Errorf("caller %d row %d = %v, want %v", i, k, got[k], wants[i][k])
					return
				}
			}
			errs <- nil
		}()
	}
	for len(b.queue) < callers {
		time.Sleep(time.Millisecond)
	}
	free()
	b.wg.Add(1)
	go b.run()
	defer b.close()
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := b.batches.Load(); got != 1 {
		t.Fatalf("%d queued calls ran in %d batches, want 1", callers, got)
	}
}

// stalledBatcher is a batcher whose instances never run and whose batch
// slots are all taken (a model busy with a long batch), so calls stay
// queued: it shows the queue policy without timing races. free releases
// the slots.
func stalledBatcher(t *testing.T, pol BatchPolicy) (b *batcher, free func()) {
	pol.EnsureDefaults()
	eng := testEngine(t, 2)
	b = &batcher{eng: eng, nin: 2, pol: pol, queue: make(chan *inferCall, pol.MaxQueueSize),
		slots: make(chan struct{}, pol.Instances), stop: make(chan struct{})}
	for range pol.Instances {
		b.slots <- struct{}{}
	}
	return b, func() {
		for range pol.Instances {
			<-b.slots
		}
	}
}

// TestBatcherQueuePolicy: a full queue rejects at once with 503; a call
// that waits past its timeout is rejected with 504 rather than waiting
// forever; an expired call left in the queue is answered, not run.
func TestBatcherQueuePolicy(t *testing.T) {
	b, free := stalledBatcher(t, BatchPolicy{MaxQueueSize: 1, Timeout: 20 * time.Millisecond})
	x, out := []float32{1, 2}, make([]float32, 1)
	first := make(chan error, 1)
	go func() { first <- b.infer(x, 1, out, time.Time{}) }()
	for len(b.queue) == 0 {
		time.Sleep(time.Millisecond)
	}
	err := b.infer(x, 1, out, time.Time{})
	if !errors.Is(err, ErrQueueFull) || code(err) != codes.Unavailable {
		t.Fatalf("second call on a full queue: %v (code %v), want ErrQueueFull / Unavailable", err, code(err))
	}
	err = <-first
	if !errors.Is(err, context.DeadlineExceeded) || code(err) != codes.DeadlineExceeded {
		t.Fatalf("queued call past its timeout: %v (code %v), want DeadlineExceeded", err, code(err))
	}
	// The abandoned call is still queued; a batcher that starts now must
	// skip it, and then serve new calls.
	free()
	b.wg.Add(1)
	go b.run()
	defer b.close()
	for len(b.queue) > 0 {
		time.Sleep(time.Millisecond)
	}
	if err := b.infer(x, 1, out, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("after the stall: %v", err)
	}
	if got := b.batches.Load(); got != 1 {
		t.Fatalf("%d batches ran, want 1 (the abandoned call must not run)", got)
	}
	// With the model idle, a call runs inline; with every slot taken it
	// queues and the batcher runs it once a slot frees.
	if err := b.infer(x, 1, out, time.Time{}); err != nil || b.batches.Load() != 2 {
		t.Fatalf("idle call: %v, %d batches", err, b.batches.Load())
	}
	// A request deadline sooner than the policy's timeout wins.
	b2, _ := stalledBatcher(t, BatchPolicy{Timeout: time.Hour})
	if err := b2.infer(x, 1, out, time.Now().Add(10*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request deadline: %v", err)
	}
}

// TestBatcherTakeExpired: a call whose deadline passed before a batch took
// it is answered with a timeout by the batcher.
func TestBatcherTakeExpired(t *testing.T) {
	b, _ := stalledBatcher(t, BatchPolicy{})
	c := callPool.Get().(*inferCall)
	c.state.Store(callPending)
	c.deadline = time.Now().Add(-time.Millisecond)
	if b.take(c) {
		t.Fatal("took an expired call")
	}
	<-c.done
	if !errors.Is(c.err, context.DeadlineExceeded) {
		t.Fatalf("expired call answered %v", c.err)
	}
}

// TestBatcherCloseRejectsQueued: calls still queued when a model is
// unloaded get 503, not silence.
func TestBatcherCloseRejectsQueued(t *testing.T) {
	b, _ := stalledBatcher(t, BatchPolicy{Timeout: time.Hour})
	res := make(chan error, 1)
	go func() { res <- b.infer([]float32{1, 2}, 1, make([]float32, 1), time.Time{}) }()
	for len(b.queue) == 0 {
		time.Sleep(time.Millisecond)
	}
	b.close()
	if err := <-res; !errors.Is(err, ErrModelUnavailable) || code(err) != codes.Unavailable {
		t.Fatalf("queued call at close: %v", err)
	}
}

// TestBatcherLargeCall: a call larger than MaxBatchSize runs alone, split
// by the engine, and is still exact.
func TestBatcherLargeCall(t *testing.T) {
	eng := testEngine(t, 3)
	b := newBatcher(eng, BatchPolicy{MaxBatchSize: 8})
	defer b.close()
	rows := 50
	x := make([]float32, rows*3)
	for i := range x {
		x[i] = float32(i%17) - 8
	}
	want, got := make([]float32, rows), make([]float32, rows)
	if err := eng.Predict(x, rows, want); err != nil {
		t.Fatal(err)
	}
	if err := b.infer(x, rows, got, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d = %v, want %v", i, got[i], want[i])
		}
	}
	if err := b.infer(x[:4], 2, got, time.Time{}); !errors.Is(err, model.ErrShape) {
		t.Fatalf("wrong length: %v", err)
	}
}

func TestSplitModelPath(t *testing.T) {
	for p, want := range map[string]string{
		"m":                    "m||",
		"m/ready":              "m||ready",
		"m/infer":              "m||infer",
		"m/versions/3":         "m|3|",
		"m/versions/3/infer":   "m|3|infer",
		"m/versions/3/ready":   "m|3|ready",
		"m/":                   "!",
		"":                     "!",
		"/infer":               "!",
		"m/versions":           "!",
		"m/versions/":          "!",
		"m/versions/3/":        "!",
		"m/versions/3/explain": "!",
		"m/predict":            "!",
	} {
		name, version, action, ok := splitModelPath(p)
		got := name + "|" + version + "|" + action
		if !ok {
			got = "!"
		}
		if got != want {
			t.Errorf("splitModelPath(%q) = %s, want %s", p, got, want)
		}
	}
}
