package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/internal/redistest"
)

// rawRequest writes req on a fresh connection to the server at httpURL and
// reads the response, so that a request net/http would refuse to send (or
// would retry) reaches the server as written.
func rawRequest(t *testing.T, httpURL, req string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(httpURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// The server may answer before reading the whole request; write from a
	// goroutine so that the answer is read either way.
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		io.WriteString(conn, req)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	conn.Close()
	<-wrote
	return resp, b
}

// wantJSONError checks the documented error shape: JSON {"error": ...}
// containing want.
func wantJSONError(t *testing.T, what string, resp *http.Response, b []byte, status int, want string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: body %q is not the JSON error shape: %v", what, b, err)
	}
	if !strings.Contains(e.Error, want) {
		t.Errorf("%s: error %q does not contain %q", what, e.Error, want)
	}
}

func TestOversizedBody413(t *testing.T) {
	var logs syncBuffer
	ts := startServerWith(t, func(_ *featurestore.Store, cfg *Config) {
		cfg.MaxRequestBodySize = 1 << 10
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	body := `{"features":["x"],"entities":{"k":[` + strings.Repeat("1,", 1500) + `1]}}`
	for _, path := range []string{"/get-online-features", "/push", "/v1/registry:apply"} {
		req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
		resp, b := rawRequest(t, ts.httpURL, req)
		wantJSONError(t, "POST "+path+" over the body limit", resp, b, http.StatusRequestEntityTooLarge, "exceeds the 1024-byte limit")
	}
	// Chunked bodies are bounded too.
	req := fmt.Sprintf("POST /push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	resp, b := rawRequest(t, ts.httpURL, req)
	wantJSONError(t, "a chunked body over the limit", resp, b, http.StatusRequestEntityTooLarge, "exceeds the 1024-byte limit")
	// A body under the limit still reaches the handler.
	code, b := post(t, ts.httpURL+"/get-online-features", `{"features":["nope:x"],"entities":{"k":[1]}}`)
	if code == http.StatusRequestEntityTooLarge {
		t.Fatalf("a small body was refused: %d %s", code, b)
	}
	// fasthttp logs each refused connection; a flood of them is
	// rate-limited like failed requests.
	const flood = 50
	for range flood {
		req := fmt.Sprintf("POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		rawRequest(t, ts.httpURL, req)
	}
	ts.stop()
	var lines, suppressed int64
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "component=fasthttp") {
			lines++
			n, _ := strconv.ParseInt(regexp.MustCompile(`suppressed=(\d+)`).FindStringSubmatch(l)[1], 10, 64)
			suppressed += n
		}
	}
	t.Logf("fasthttp log: %d lines, %d suppressed", lines, suppressed)
	// 4 refused above, flood more: one line at once, one at shutdown.
	if lines > 3 || lines-1+suppressed != flood+4 {
		t.Errorf("fasthttp log: %d lines reporting %d suppressed for %d refused requests:\n%s", lines, suppressed, flood+4, logs.String())
	}
}

func TestOversizedHeaders431(t *testing.T) {
	ts := startServerWith(t, func(_ *featurestore.Store, cfg *Config) {
		cfg.MaxHeaderSize = 4 << 10
	})
	req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 5<<10) + "\r\n\r\n"
	resp, b := rawRequest(t, ts.httpURL, req)
	wantJSONError(t, "headers over the limit", resp, b, http.StatusRequestHeaderFieldsTooLarge, "exceed the 4096-byte limit")
	// A long URL is the request line: the same limit.
	req = "GET /healthz?q=" + strings.Repeat("a", 5<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n"
	resp, b = rawRequest(t, ts.httpURL, req)
	wantJSONError(t, "a request line over the limit", resp, b, http.StatusRequestHeaderFieldsTooLarge, "exceed the 4096-byte limit")
	// Headers under the limit are served.
	req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 3<<10) + "\r\nConnection: close\r\n\r\n"
	if resp, b := rawRequest(t, ts.httpURL, req); resp.StatusCode != 200 {
		t.Fatalf("headers under the limit: %d %s", resp.StatusCode, b)
	}
}

func TestGatewayMethodNotAllowed405(t *testing.T) {
	ts := startServer(t)
	for _, c := range []struct {
		method, path, allow string
	}{
		{http.MethodDelete, "/v1/registry/feature_views", "GET"},
		{http.MethodPut, "/v1/registry:apply", "POST"},
		{http.MethodGet, "/v1/registry:apply", "POST"},
	} {
		req, err := http.NewRequest(c.method, ts.httpURL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		what := c.method + " " + c.path
		wantJSONError(t, what, resp, b, http.StatusMethodNotAllowed, "method "+c.method+" is not allowed on "+c.path)
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s: Allow %q, want %q", what, got, c.allow)
		}
	}
	// The fasthttp endpoints are POST only, and say so.
	for _, path := range []string{"/get-online-features", "/push", "/v1/predict", "/v2/models/m/infer"} {
		resp, err := http.Get(ts.httpURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantJSONError(t, "GET "+path, resp, b, http.StatusMethodNotAllowed, "method not allowed")
		if got := resp.Header.Get("Allow"); got != "POST" {
			t.Errorf("GET %s: Allow %q, want POST", path, got)
		}
	}
	// An unknown path under the gateway is still 404 in the same shape, and
	// an allowed method still works.
	resp, err := http.Get(ts.httpURL + "/v1/registry/a/b/c/d")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantJSONError(t, "an unknown gateway path", resp, b, http.StatusNotFound, "no route for GET /v1/registry/a/b/c/d")
	if code, _ := httpGet(t, ts.httpURL+"/v1/registry/feature_views"); code != http.StatusOK {
		t.Fatalf("GET /v1/registry/feature_views: %d", code)
	}
}

// failingStore is an online store whose reads fail as an unreachable
// store's do while down is set.
type failingStore struct {
	featurestore.OnlineStore
	down atomic.Bool
}

func (s *failingStore) Get(ctx context.Context, keys [][]byte, fn func(int, []byte)) error {
	if s.down.Load() {
		return fmt.Errorf("%w: dial tcp 127.0.0.1:1: connect: connection refused", featurestore.ErrStoreUnavailable)
	}
	return s.OnlineStore.Get(ctx, keys, fn)
}

// syncBuffer is a log destination written by concurrent requests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRepeatedFailuresRateLimited sends many requests to a server whose
// online store is down: the log carries a bounded number of lines, whose
// suppressed counts add up to every failure. The store is a real Redis
// server shut down under the server, and (for 10k requests, quickly) a
// store whose reads fail as an unreachable store's do.
func TestRepeatedFailuresRateLimited(t *testing.T) {
	t.Run("store=failing", func(t *testing.T) {
		var store *failingStore
		floodFailures(t, 10_000, func(st *featurestore.Store) featurestore.OnlineStore {
			store = &failingStore{OnlineStore: st.Online()}
			return store
		}, func() { store.down.Store(true) })
	})
	t.Run("store=redis-stopped", func(t *testing.T) {
		// go-redis leaves a dialer goroutine asleep for up to a second
		// after its pool closes; wait for it (this cleanup runs last) so
		// that goleak does not see it when this test runs alone.
		t.Cleanup(func() { waitGoroutinesGone(t, "go-redis/v9/internal/pool.(*ConnPool).tryDial", 5*time.Second) })
		url := redistest.StartServer(t)
		floodFailures(t, 2_000, func(st *featurestore.Store) featurestore.OnlineStore {
			online, err := st.OpenOnline(url, featurestore.StoreTimeouts{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { online.Close() })
			return online
		}, func() {
			addr := strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")
			host, port, _ := strings.Cut(addr, ":")
			// SHUTDOWN closes the connection instead of answering.
			exec.Command("redis-cli", "-h", host, "-p", port, "shutdown", "nosave").Run()
		})
	})
}

// floodFailures starts a server over the example on the store open
// returns, checks a read succeeds, calls down, sends requests reads that
// must all fail 503, stops the server and checks its log.
func floodFailures(t *testing.T, requests int64, open func(*featurestore.Store) featurestore.OnlineStore, down func()) {
	d, _ := exampleDefs(t)
	var logs syncBuffer
	ts := startServerWith(t, func(st *featurestore.Store, cfg *Config) {
		online := open(st)
		loadExample(t, st, online, d)
		cfg.Online = online
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	const body = `{"features":["driver_hourly:conv_rate"],"entities":{"driver_id":[1001]}}`
	if code, b := post(t, ts.httpURL+"/get-online-features", body); code != 200 {
		t.Fatalf("read with the store up: %d %s", code, b)
	}
	down()
	// The store may take a moment to go down (Redis answers until its
	// SHUTDOWN completes); wait for the first refusal, which counts.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, b := post(t, ts.httpURL+"/get-online-features", body)
		if code == http.StatusServiceUnavailable {
			break
		}
		if code != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("read after the store went down: %d %s", code, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	const workers = 4
	start := time.Now()
	var wg sync.WaitGroup
	var next, failed, bad atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= requests {
				resp, err := http.Post(ts.httpURL+"/get-online-features", "application/json", strings.NewReader(body))
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
					// A dial to a stopped Redis may outlast the request
					// timeout on a loaded machine: 504, logged under its
					// own key.
					failed.Add(1)
				default:
					if bad.Add(1) == 1 {
						t.Logf("first request not refused: %d", resp.StatusCode)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if bad.Load() != 0 {
		t.Fatalf("%d of %d requests did not get 503 or 504", bad.Load(), requests)
	}
	failures := failed.Load() + 1 // and the first refusal above
	ts.stop()                     // flushes the counts still pending
	var logged, suppressed int64
	linesPerStatus := map[string]int64{}
	re := regexp.MustCompile(`status=(\d+) .*suppressed=(\d+)`)
	for _, l := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(l, `msg="request failed`) {
			continue
		}
		m := re.FindStringSubmatch(l)
		if !strings.Contains(l, "endpoint=/get-online-features") || m == nil {
			t.Fatalf("unexpected failure line: %s", l)
		}
		n, _ := strconv.ParseInt(m[2], 10, 64)
		linesPerStatus[m[1]]++
		suppressed += n
		// The shutdown's "(repeats)" lines report counts only.
		if strings.Contains(l, `msg="request failed" `) {
			logged++
		}
	}
	// Per key: one line at once, one per 10 s interval at most, one at
	// shutdown.
	limit := 2 + int64(elapsed/(10*time.Second))
	for status, n := range linesPerStatus {
		if n > limit {
			t.Errorf("%d lines for status %s in %v, want at most %d:\n%s", n, status, elapsed, limit, logs.String())
		}
	}
	if linesPerStatus["503"] < 2 {
		t.Errorf("%d lines for status 503, want at least 2 (the first failure, the count at shutdown):\n%s", linesPerStatus["503"], logs.String())
	}
	if logged+suppressed != failures {
		t.Errorf("%d lines logged + %d suppressed != %d failures:\n%s", logged, suppressed, failures, logs.String())
	}
	t.Logf("%d failures in %v: %v log lines per status, %d suppressed", failures, elapsed, linesPerStatus, suppressed)
}

// waitGoroutinesGone waits until no goroutine has fn in its stack.
func waitGoroutinesGone(t *testing.T, fn string, timeout time.Duration) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		n := runtime.Stack(buf, true)
		if !bytes.Contains(buf[:n], []byte(fn)) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutines in %s still running after %v", fn, timeout)
			return
		}
	}
}
