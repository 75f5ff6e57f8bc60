package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// A control run answers the question a latency table alone cannot: how
// much of a tail is the server's, and how much the machine's. It replays
// the same open-loop load (same rate, connections, request bodies,
// response size) against a null server in this process that does nothing
// but burn the real server's CPU per request and write a body of the same
// length. What the null server shows is the floor this machine, this
// kernel and this load generator put under any server doing that much
// work per request; a tail the real server shows above it is its own.
//
// The null server's work is CPU time, not wall time: a calibrated spin of
// dependent integer steps, so a core taken away mid-request (a preempted
// vCPU, another thread) stretches it exactly as it stretches real work.
// The work per request is the real run's process CPU per request minus a
// first null run's with no work (the load generator's and the transport's
// share, measured at the same rate).

// ControlResult is the control runs of one shape and connection count.
type ControlResult struct {
	// Work is the CPU per request the null server burned: the real run's
	// ProcessCPUPerRequest minus Idle's.
	Work time.Duration
	// Idle is the null server answering with no work (the load
	// generator's and the transport's cost), Load the null server burning
	// Work per request. Both run at the real run's rate.
	Idle, Load LoadResult
	// BodyBytes is the length of every null response: the real server's
	// response to the scenario's first request body.
	BodyBytes int
}

// nullServer is the control's HTTP server: every request is answered with
// body after work of CPU.
type nullServer struct {
	srv  *fasthttp.Server
	ln   net.Listener
	done chan error
	body []byte
	// steps is the number of spin steps per request.
	steps atomic.Int64
}

func startNullServer(bodyBytes int) (*nullServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	body := make([]byte, bodyBytes)
	for i := range body {
		body[i] = ' '
	}
	n := &nullServer{ln: ln, done: make(chan error, 1), body: body}
	n.srv = &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			spin(n.steps.Load())
			ctx.SetContentType("application/json")
			ctx.Response.SetBodyRaw(n.body)
		},
		NoDefaultServerHeader: true,
		NoDefaultDate:         true,
	}
	go func() { n.done <- n.srv.Serve(ln) }()
	return n, nil
}

func (n *nullServer) url() string { return "http://" + n.ln.Addr().String() + "/null" }

func (n *nullServer) stop() error {
	err := n.srv.Shutdown()
	return errors.Join(err, <-n.done)
}

// spin runs n dependent multiply-add steps: a fixed amount of CPU work
// that no cache or branch predictor shortens.
//
//go:noinline
func spin(n int64) {
	x := uint64(n)
	for i := int64(0); i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	runtime.KeepAlive(x) // the result is used: the loop cannot be dropped
}

// spinSteps returns the number of spin steps that take d of CPU on this
// machine: calibrated on the fastest of several timed runs, so that a
// preemption during calibration does not inflate the rate's inverse.
func spinSteps(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	const probe = 1 << 20
	best := time.Duration(1<<63 - 1)
	for range 7 {
		t := time.Now()
		spin(probe)
		best = min(best, time.Since(t))
	}
	best = max(best, time.Nanosecond)
	return int64(float64(d) / float64(best) * probe)
}

// runControl measures real's load again against a null server answering
// bodyBytes per request.
func runControl(ctx context.Context, cfg LoadConfig, real LoadResult, bodyBytes int) (ControlResult, error) {
	n, err := startNullServer(bodyBytes)
	if err != nil {
		return ControlResult{}, err
	}
	defer func() { _ = n.stop() }()
	cfg.URL = n.url()
	cfg.Rate = real.Rate
	res := ControlResult{BodyBytes: bodyBytes}
	if res.Idle, err = Load(ctx, cfg); err != nil {
		return res, err
	}
	res.Work = max(0, real.ProcessCPUPerRequest-res.Idle.ProcessCPUPerRequest)
	n.steps.Store(spinSteps(res.Work))
	if res.Load, err = Load(ctx, cfg); err != nil {
		return res, err
	}
	if res.Load.Errors > 0 || res.Idle.Errors > 0 {
		return res, fmt.Errorf("bench: control run: %d errors; first: %s", res.Load.Errors+res.Idle.Errors, res.Load.FirstError+res.Idle.FirstError)
	}
	return res, nil
}

// Stalls is what MeasureStalls saw: how often the machine took a running
// thread off its core without the thread asking.
type Stalls struct {
	// Duration is the measured time per thread; Threads the number of
	// threads measured (one per GOMAXPROCS).
	Duration time.Duration
	Threads  int
	// Over50us, Over200us, Over1ms and Over5ms count gaps longer than
	// each bound, over all threads.
	Over50us, Over200us, Over1ms, Over5ms int
	// Lost is the summed length of the gaps over 50 µs, over all
	// threads; Max the longest gap.
	Lost, Max time.Duration
}

// LostFraction is the share of the threads' time lost to gaps.
func (s Stalls) LostFraction() float64 {
	if s.Duration <= 0 || s.Threads == 0 {
		return 0
	}
	return float64(s.Lost) / float64(s.Duration*time.Duration(s.Threads))
}

// MeasureStalls runs one thread per GOMAXPROCS for d, each reading the
// clock in a tight loop, and records every gap between two consecutive
// readings longer than 50 µs (jHiccup's idea): time the thread was
// runnable but not running — the kernel ran something else, or the
// hypervisor ran something else in place of the vCPU. Such a gap stalls
// whatever request is on that core, so gaps of a millisecond that come
// several times a second put a floor under every p99 measured here. Run it
// on an otherwise idle machine: it keeps every core busy.
func MeasureStalls(ctx context.Context, d time.Duration) Stalls {
	threads := runtime.GOMAXPROCS(0)
	res := make([]Stalls, threads)
	var wg sync.WaitGroup
	for t := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			s := &res[t]
			start := time.Now()
			last := start
			for i := 0; ; i++ {
				now := time.Now()
				gap := now.Sub(last)
				last = now
				if gap > 50*time.Microsecond {
					s.Over50us++
					s.Lost += gap
					s.Max = max(s.Max, gap)
					if gap > 200*time.Microsecond {
						s.Over200us++
					}
					if gap > time.Millisecond {
						s.Over1ms++
					}
					if gap > 5*time.Millisecond {
						s.Over5ms++
					}
				}
				if now.Sub(start) >= d || (i&0xffff == 0 && ctx.Err() != nil) {
					s.Duration = now.Sub(start)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := Stalls{Threads: threads}
	for _, s := range res {
		total.Duration = max(total.Duration, s.Duration)
		total.Over50us += s.Over50us
		total.Over200us += s.Over200us
		total.Over1ms += s.Over1ms
		total.Over5ms += s.Over5ms
		total.Lost += s.Lost
		total.Max = max(total.Max, s.Max)
	}
	return total
}

// String reports s in one line, rates per thread-second.
func (s Stalls) String() string {
	secs := s.Duration.Seconds() * float64(s.Threads)
	if secs == 0 {
		return "no measurement"
	}
	return fmt.Sprintf("%d threads × %s: per thread-second %.0f gaps > 50µs, %.1f > 200µs, %.1f > 1ms, %.2f > 5ms; %.1f%% of the time lost; longest %s",
		s.Threads, s.Duration.Round(time.Millisecond), float64(s.Over50us)/secs, float64(s.Over200us)/secs,
		float64(s.Over1ms)/secs, float64(s.Over5ms)/secs, 100*s.LostFraction(), fmtLatency(s.Max))
}
