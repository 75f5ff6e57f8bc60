package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// LoadConfig configures Load: an HTTP load of POST requests against one
// URL.
type LoadConfig struct {
	// URL receives every request: http:// or https://, with a path.
	// Required.
	URL string
	// Bodies are the JSON request bodies, sent round-robin (request i
	// carries Bodies[i%len(Bodies)]). At least one is required. Load does
	// not modify or keep them.
	Bodies [][]byte
	// Conns is the number of connections, each driven by one worker with
	// at most one request in flight (no pipelining). Default 1.
	Conns int
	// Rate is the open-loop request rate in requests per second: request
	// i is due at start + i/Rate whatever the server does. 0 means closed
	// loop: every connection sends its next request as soon as the last
	// one completes.
	Rate float64
	// Duration is the measured period, after Warmup. Required.
	Duration time.Duration
	// Warmup is sent before the measured period (at the same rate) and not
	// recorded, so that connections, caches and the server's pools are
	// warm when measuring starts. Default 0.
	Warmup time.Duration
	// Timeout bounds each request; one that takes longer counts as an
	// error. Default 10s.
	Timeout time.Duration
	// Progress, when set, is called about every 500 ms (never more often)
	// with the requests completed so far, warm-up included, and the time
	// since the start, from a goroutine of Load's own.
	Progress func(done int64, elapsed time.Duration)
}

// LoadResult summarises the measured period of a Load.
//
// Latencies are coordinated-omission corrected in open loop: a request's
// latency is measured from its intended send time, so a server that
// stalls is charged for the requests that queued behind the stall, as the
// users behind them would be. Precisely, it is the request's round trip
// plus the time it would have waited for its connection had every earlier
// request on that connection been sent exactly when due: the server's
// doing is counted, and the generator's own lateness in sending (timers
// fire up to a millisecond late) is not. In closed loop a latency is the
// round trip.
type LoadResult struct {
	// Requests is how many requests due in the measured period completed,
	// successfully or not.
	Requests int64
	// Errors counts the Requests that failed: a transport error, a
	// timeout, or a status outside 2xx. FirstError describes the first.
	Errors     int64
	FirstError string
	// Dropped counts requests due in the measured period that were never
	// sent because every connection was still busy a tenth of Duration
	// after it ended: the offered rate was above what the server
	// sustained. Each is recorded in the percentiles with the time it had
	// waited by then, a lower bound of its latency, so that the backlog
	// still shows in the tail.
	Dropped int64
	// Duration is from the start of the measured period until its last
	// request completed.
	Duration time.Duration
	// Rate is the configured open-loop rate; 0 for closed loop.
	Rate float64
	// Throughput is successful requests (Requests − Errors) per second of
	// Duration.
	Throughput float64
	// P50, P99 and P999 are latency percentiles and Max the largest
	// latency, over every completed and dropped request (3 significant
	// digits, from 1 µs to 60 s; longer latencies count as 60 s).
	P50, P99, P999, Max time.Duration
	// ProcessCPUPerRequest is the CPU time (user + system) the whole
	// process used during the measured period divided by Requests. With an
	// in-process server it includes the load generator's own work, which
	// is why it is named for the process and not for the server.
	ProcessCPUPerRequest time.Duration
}

// Histogram bounds, in microseconds.
const (
	histMin    = 1
	histMax    = int64(60 * time.Second / time.Microsecond)
	histDigits = 3
)

// progressEvery is the interval between Progress calls.
const progressEvery = 500 * time.Millisecond

func (c *LoadConfig) ensureDefaults() {
	if c.Conns == 0 {
		c.Conns = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
}

func (c *LoadConfig) validate() (*url.URL, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: URL: %w", ErrInvalidConfig, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q: want http://host[:port]/path or https://…", ErrInvalidConfig, c.URL)
	}
	switch {
	case len(c.Bodies) == 0:
		return nil, fmt.Errorf("%w: no request bodies", ErrInvalidConfig)
	case c.Conns < 0:
		return nil, fmt.Errorf("%w: Conns %d is negative", ErrInvalidConfig, c.Conns)
	case c.Rate < 0:
		return nil, fmt.Errorf("%w: Rate %g is negative", ErrInvalidConfig, c.Rate)
	case c.Duration <= 0:
		return nil, fmt.Errorf("%w: Duration %s is not positive", ErrInvalidConfig, c.Duration)
	case c.Warmup < 0:
		return nil, fmt.Errorf("%w: Warmup %s is negative", ErrInvalidConfig, c.Warmup)
	case c.Timeout < 0:
		return nil, fmt.Errorf("%w: Timeout %s is negative", ErrInvalidConfig, c.Timeout)
	}
	return u, nil
}

// hostPort returns u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// hostClient returns a fasthttp client for u's host (checkEndpoint's one
// request), with conns connections.
func hostClient(u *url.URL, conns int, timeout time.Duration) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:     hostPort(u),
		IsTLS:    u.Scheme == "https",
		MaxConns: conns,
		// Every worker holds at most one connection, so one is always
		// free; waiting for one would be a bug, not load.
		MaxConnWaitTimeout: timeout,
		ReadTimeout:        timeout,
		WriteTimeout:       timeout,
		// POSTs are not idempotent: a failed request counts as an error
		// instead of being retried behind the measurement's back.
		MaxIdemponentCallAttempts: 1,
		NoDefaultUserAgentHeader:  true,
	}
}

// Load sends cfg's requests for cfg.Warmup + cfg.Duration and measures the
// latter. In open loop (Rate > 0) request i is due at start + i/Rate and a
// free worker sends it then, or at once when it is already late. Requests
// due in the measured period but late are still sent for a grace of a
// tenth of Duration after it (enough to drain a backlog the generator's
// own hiccups leave); those still unsent then count as Dropped. In closed
// loop each worker sends back to back until the period ends.
//
// Each worker records into its own histogram, merged at the end, so
// measuring adds no lock to a request; the only shared state per request
// is two atomic counters. When ctx ends, Load stops and returns what it
// measured with ctx's error. Each worker drives its own keep-alive
// connection (httpConn), closed when Load returns.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	cfg.ensureDefaults()
	u, err := cfg.validate()
	if err != nil {
		return LoadResult{}, err
	}
	start := time.Now()
	measure := start.Add(cfg.Warmup)
	end := measure.Add(cfg.Duration)
	r := &loadRun{cfg: &cfg, u: u, start: start, measure: measure, end: end,
		stop: end.Add(max(cfg.Duration/10, 10*time.Millisecond))}
	if cfg.Rate > 0 {
		r.interval = float64(time.Second) / cfg.Rate
	}
	workers := make([]*loadWorker, cfg.Conns)
	for i := range workers {
		workers[i] = &loadWorker{run: r, hist: hdrhistogram.New(histMin, histMax, histDigits)}
	}

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work(ctx)
		}()
	}
	finished := make(chan struct{})
	var progressDone sync.WaitGroup
	if cfg.Progress != nil {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			t := time.NewTicker(progressEvery)
			defer t.Stop()
			for {
				select {
				case <-finished:
					return
				case <-t.C:
					cfg.Progress(r.done.Load(), time.Since(start))
				}
			}
		}()
	}
	// The CPU clock starts with the measured period, on this goroutine,
	// which has nothing else to do meanwhile.
	cpuStart := processCPU()
	if cfg.Warmup > 0 {
		t := time.NewTimer(time.Until(measure))
		select {
		case <-t.C:
			cpuStart = processCPU()
		case <-ctx.Done():
			t.Stop()
		}
	}
	wg.Wait()
	stopped := time.Now()
	cpu := processCPU() - cpuStart
	close(finished)
	progressDone.Wait()

	res := LoadResult{Rate: cfg.Rate, Duration: stopped.Sub(measure)}
	hist := hdrhistogram.New(histMin, histMax, histDigits)
	for _, w := range workers {
		hist.Merge(w.hist)
		res.Requests += w.requests
		res.Errors += w.errors
		res.Dropped += w.dropped
	}
	if first := r.firstErr.Load(); first != nil {
		res.FirstError = *first
	}
	// Requests due before the end that no worker took are dropped too;
	// each waited at least from its due time until the run stopped.
	if r.interval > 0 && ctx.Err() == nil {
		for i := r.next.Load(); ; i++ {
			due := r.due(i)
			if !due.Before(end) {
				break
			}
			if !due.Before(measure) {
				record(hist, stopped.Sub(due))
				res.Dropped++
			}
		}
	}
	if res.Duration > 0 {
		res.Throughput = float64(res.Requests-res.Errors) / res.Duration.Seconds()
	}
	if res.Requests > 0 {
		res.ProcessCPUPerRequest = cpu / time.Duration(res.Requests)
	}
	res.P50 = micros(hist.ValueAtPercentile(50))
	res.P99 = micros(hist.ValueAtPercentile(99))
	res.P999 = micros(hist.ValueAtPercentile(99.9))
	res.Max = micros(hist.Max())
	return res, ctx.Err()
}

// Saturate measures the closed-loop throughput of cfg.Conns connections
// over cfg.Duration (after cfg.Warmup): the most successful requests per
// second the server sustains at that concurrency, and so the reference an
// open-loop run's rate is chosen from. cfg.Rate is ignored. A run where
// any request fails is an error, since failing fast would flatter the
// rate.
func Saturate(ctx context.Context, cfg LoadConfig) (float64, error) {
	cfg.Rate = 0
	res, err := Load(ctx, cfg)
	if err != nil {
		return 0, err
	}
	if res.Errors > 0 {
		return 0, fmt.Errorf("bench: saturating %s: %d of %d requests failed; first: %s", cfg.URL, res.Errors, res.Requests, res.FirstError)
	}
	if res.Requests == 0 {
		return 0, fmt.Errorf("bench: saturating %s: no request completed in %s", cfg.URL, cfg.Duration)
	}
	return res.Throughput, nil
}

// loadRun is the state the workers of one Load share.
type loadRun struct {
	cfg                 *LoadConfig
	u                   *url.URL
	start, measure, end time.Time
	// stop ends the sending of requests due before end but still
	// waiting for a connection.
	stop     time.Time
	interval float64 // nanoseconds between requests; 0: closed loop
	// next is the index of the next request to send; done counts those
	// completed, for Progress.
	next, done atomic.Int64
	firstErr   atomic.Pointer[string]
}

// due returns request i's intended send time in open loop. Multiplying
// instead of accumulating keeps the schedule free of drift.
func (r *loadRun) due(i int64) time.Time {
	return r.start.Add(time.Duration(float64(i) * r.interval))
}

// loadWorker drives one connection and owns its histogram and counters,
// which Load reads only after the worker returned.
type loadWorker struct {
	run                       *loadRun
	hist                      *hdrhistogram.Histogram
	requests, errors, dropped int64
}

func (w *loadWorker) work(ctx context.Context) {
	r := w.run
	conn := newHTTPConn(r.u, r.cfg.Timeout)
	defer conn.close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	// idealFree is when this connection would have become free had every
	// request on it been sent exactly when due (zero: free).
	var idealFree time.Time
	for ctx.Err() == nil {
		i := r.next.Add(1) - 1
		var due time.Time
		if r.interval > 0 {
			due = r.due(i)
			if !due.Before(r.end) {
				return
			}
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			} else if now := time.Now(); !now.Before(r.stop) {
				// Due in time but never sent: the connections were
				// all busy until the backlog's grace ran out.
				if !due.Before(r.measure) {
					record(w.hist, now.Sub(due))
					w.dropped++
				}
				return
			}
		} else if due = time.Now(); !due.Before(r.end) {
			return
		}
		sent := time.Now()
		err := conn.do(r.cfg.Bodies[i%int64(len(r.cfg.Bodies))])
		lat := time.Since(sent)
		// The request queued for as long as the connection was held
		// past its due time by earlier requests' latencies; the
		// generator's own lateness in sending (a timer that fires late:
		// Go's netpoller sleeps whole milliseconds) is not the server's.
		if wait := idealFree.Sub(due); wait > 0 {
			lat += wait
		}
		idealFree = due.Add(lat)
		r.done.Add(1)
		if due.Before(r.measure) {
			continue
		}
		record(w.hist, lat)
		w.requests++
		if err == nil && (conn.status < 200 || conn.status > 299) {
			err = fmt.Errorf("HTTP %d: %s", conn.status, truncate(conn.body, 200))
		}
		if err != nil {
			w.errors++
			if r.firstErr.Load() == nil {
				msg := err.Error()
				r.firstErr.CompareAndSwap(nil, &msg)
			}
		}
	}
}

// record adds a latency to h, clamped to the histogram's range.
func record(h *hdrhistogram.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	h.RecordValue(min(max(us, histMin), histMax))
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// truncate returns b as a string of at most n bytes, for error messages.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
