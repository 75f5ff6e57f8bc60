package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/internal/redistest"
	"github.com/fstore/fstore/serve"
)

// TestServeData: the generated dataset applies, materialises into the
// embedded store, and every entity reads back PRESENT from both views,
// with the latest of its rows.
func TestServeData(t *testing.T) {
	dir := t.TempDir()
	data := ServeData{Dir: dir, Entities: 1000, Seed: 3}
	if err := data.Generate(); err != nil {
		t.Fatal(err)
	}
	st, err := featurestore.Open(filepath.Join(dir, "fstore-data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if ok, err := data.Loaded(ctx, st.Online(), st); err != nil || ok {
		t.Fatalf("loaded before Load: %v, %v", ok, err)
	}
	if err := data.Load(ctx, st.Online(), st); err != nil {
		t.Fatal(err)
	}
	if ok, err := data.Loaded(ctx, st.Online(), st); err != nil || !ok {
		t.Fatalf("not loaded after Load: %v, %v", ok, err)
	}
	ix := st.Registry().Latest().Index
	for _, s := range []string{"s10", "s50"} {
		if ix.Lookup(def.KindFeatureService, s) == nil {
			t.Errorf("no feature service %s", s)
		}
	}

	keys := &compute.Column{}
	keys.Reset(def.Int64, data.Entities)
	for i := range keys.I64 {
		keys.I64[i] = int64(i)
	}
	f1 := map[string][]float64{}
	for _, view := range ServeViews {
		v := ix.FeatureView(view)
		if v == nil || !v.Online || v.TTL != 0 {
			t.Fatalf("view %s: %+v", view, v)
		}
		ov, err := featurestore.CompileOnline(ix, v)
		if err != nil {
			t.Fatal(err)
		}
		var r featurestore.ReadResult
		if err := featurestore.Read(ctx, st.Online(), ov, []*compute.Column{keys}, keys.Len, time.Now().UnixMicro(), &r); err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"fv10": 10, "fv50": 50}[view]; len(r.Status) != want {
			t.Fatalf("%s: %d outputs, want %d", view, len(r.Status), want)
		}
		for o, col := range r.Status {
			for i, s := range col {
				if s != featurestore.Present {
					t.Fatalf("%s output %d entity %d: %s", view, o, i, s)
				}
			}
		}
		for i, ts := range r.EventTS {
			if want := base + 3_600_000_000 + int64(i); ts != want {
				t.Fatalf("%s entity %d: event time %d, want the latest row's %d", view, i, ts, want)
			}
		}
		f1[view] = slices.Clone(r.Values[0].F64)
	}
	// Both views read the same file, so they agree on f1.
	if !slices.Equal(f1["fv10"], f1["fv50"]) {
		t.Fatal("fv10:f1 and fv50:f1 differ")
	}
}

type feastRequest struct {
	Features []string           `json:"features"`
	Entities map[string][]int64 `json:"entities"`
}

func TestServeBodies(t *testing.T) {
	for _, c := range []struct {
		shape    string
		n        int
		features []string
	}{
		{"1x10", 1, []string{"fv10:f1", "fv10:f2", "fv10:f3", "fv10:f4", "fv10:f5", "fv10:f6", "fv10:f7", "fv10:f8", "fv10:f9", "fv10:f10"}},
		{"100x10", 100, nil},
		{"100x50", 100, nil},
	} {
		bodies := ServeBodies(c.shape, 500, 20, 9)
		if len(bodies) != 20 {
			t.Fatalf("%s: %d bodies", c.shape, len(bodies))
		}
		if again := ServeBodies(c.shape, 500, 20, 9); !slices.EqualFunc(bodies, again, bytes.Equal) {
			t.Fatalf("%s: not deterministic", c.shape)
		}
		if other := ServeBodies(c.shape, 500, 20, 10); slices.EqualFunc(bodies, other, bytes.Equal) {
			t.Fatalf("%s: seed ignored", c.shape)
		}
		_, m, _ := ParseServeShape(c.shape)
		for _, b := range bodies {
			var req feastRequest
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatalf("%s: %v: %s", c.shape, err, b)
			}
			if len(req.Features) != m || (c.features != nil && !slices.Equal(req.Features, c.features)) {
				t.Fatalf("%s: features %v", c.shape, req.Features)
			}
			ids := req.Entities["entity_id"]
			if len(req.Entities) != 1 || len(ids) != c.n {
				t.Fatalf("%s: entities %v", c.shape, req.Entities)
			}
			for _, id := range ids {
				if id < 0 || id >= 500 {
					t.Fatalf("%s: entity id %d outside [0, 500)", c.shape, id)
				}
			}
		}
	}
	if !strings.HasPrefix(string(ServeBodies("100x50", 0, 1, 0)[0]), `{"features":["fv50:f1","fv50:f2",`) {
		t.Fatal("100x50 does not read fv50")
	}
	for _, bad := range []string{"", "10", "x10", "0x10", "1x11", "ax10", "1x10x"} {
		if _, _, err := ParseServeShape(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("shape %q: %v", bad, err)
		}
	}
}

func TestFormatServeTable(t *testing.T) {
	var b strings.Builder
	err := FormatServeTable(&b, []ServeResult{
		{Shape: "1x10", Conns: 1, Store: "pebble", Saturation: 12345.6, Load: LoadResult{
			Throughput: 6170, P50: 87 * time.Microsecond, P99: 1234 * time.Microsecond,
			P999: 15 * time.Millisecond, Max: 1500 * time.Millisecond, ProcessCPUPerRequest: 41 * time.Microsecond}},
		{Shape: "100x50", Conns: 64, Store: storeName("redis://:secret@localhost:6379/0"), Saturation: 900, Load: LoadResult{Errors: 2, Dropped: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, want := range []string{"12346", "6170", "87.0µs", "1.23ms", "15.0ms", "1.50s", "41.0µs"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if strings.Contains(out, "secret") {
		t.Error("the Redis password is printed")
	}
	// Aligned: every line equally wide (right-aligned columns).
	w := utf8.RuneCountInString
	if w(lines[0]) != w(lines[1]) || w(lines[1]) != w(lines[2]) {
		t.Errorf("lines of %d, %d and %d characters", w(lines[0]), w(lines[1]), w(lines[2]))
	}
}

func TestServeRunInvalid(t *testing.T) {
	for _, c := range []ServeRun{
		{},
		{Dir: t.TempDir(), Shapes: []string{"1x7"}},
		{Dir: t.TempDir(), Shapes: []string{"predict:100x10"}},
		{Dir: t.TempDir(), Shapes: []string{"predict:x50"}},
		{Dir: t.TempDir(), Conns: []int{0}},
	} {
		if err := c.Run(context.Background(), func(ServeResult) {}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestServeRunEndToEnd runs the serve scenario, small and short, against
// the real server over loopback: every shape answers without errors and
// the table prints. It checks the scenario works, not how fast.
func TestServeRunEndToEnd(t *testing.T) {
	run := ServeRun{
		Dir:      t.TempDir(),
		Entities: 2000,
		Shapes:   []string{"1x10", "100x50", "predict:10x50"},
		Conns:    []int{2},
		Duration: 300 * time.Millisecond,
		Warmup:   50 * time.Millisecond,
		Bodies:   20,
	}
	var results []ServeResult
	if err := run.Run(context.Background(), func(r ServeResult) { results = append(results, r) }); err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("%d results, want 3", len(results))
	}
	for _, r := range results {
		if r.Saturation <= 0 || r.Load.Requests == 0 || r.Load.Errors != 0 || r.Load.P99 <= 0 {
			t.Fatalf("%s × %d: %+v", r.Shape, r.Conns, r)
		}
	}
	var b strings.Builder
	if err := FormatServeTable(&b, results); err != nil || !strings.Contains(b.String(), "100x50") || !strings.Contains(b.String(), "predict:10x50") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}

// TestServeRunExternal measures a server running outside the scenario (as
// `fstore bench serve --url` does) over a directory an earlier run loaded.
func TestServeRunExternal(t *testing.T) {
	dir := t.TempDir()
	base := ServeRun{Dir: dir, Entities: 1000, Shapes: []string{"predict:5x50"}, Conns: []int{1},
		Duration: 100 * time.Millisecond, Warmup: 10 * time.Millisecond, Bodies: 5}
	if err := base.Run(context.Background(), func(ServeResult) {}); err != nil {
		t.Fatal(err)
	}
	st, err := featurestore.Open(filepath.Join(dir, "fstore-data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, stop := context.WithCancel(context.Background())
	addrc, errc := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		errc <- serve.Run(ctx, serve.Config{Store: st, HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0",
			OnListen: func(h, _ net.Addr) { addrc <- h }, Logger: slog.New(slog.DiscardHandler)})
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatal(err)
	}
	defer func() {
		stop()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	run := base
	run.URL = "http://" + addr.String() + "/"
	run.Shapes = []string{"1x10", "predict:5x50"}
	var results []ServeResult
	if err := run.Run(context.Background(), func(r ServeResult) { results = append(results, r) }); err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		if r.Store != run.URL || r.Load.Requests == 0 || r.Load.Errors != 0 {
			t.Fatalf("%+v", r)
		}
	}
}

// TestServeRunControl runs the scenario with control runs: each result
// carries the null server's runs at the real run's rate, its work is the
// real CPU per request less the idle null run's, and its responses are as
// long as the real server's.
func TestServeRunControl(t *testing.T) {
	var logged []string
	run := ServeRun{Dir: t.TempDir(), Entities: 1000, Shapes: []string{"10x10"}, Conns: []int{1},
		Duration: 200 * time.Millisecond, Warmup: 20 * time.Millisecond, Bodies: 5, Control: true,
		Log: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }}
	var results []ServeResult
	if err := run.Run(context.Background(), func(r ServeResult) { results = append(results, r) }); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Control == nil {
		t.Fatalf("results %+v", results)
	}
	r, c := results[0], results[0].Control
	if c.Idle.Requests == 0 || c.Load.Requests == 0 || c.Idle.Errors+c.Load.Errors != 0 {
		t.Fatalf("control %+v", c)
	}
	if c.Idle.Rate != r.Load.Rate || c.Load.Rate != r.Load.Rate {
		t.Errorf("control rates %g, %g; real %g", c.Idle.Rate, c.Load.Rate, r.Load.Rate)
	}
	if want := max(0, r.Load.ProcessCPUPerRequest-c.Idle.ProcessCPUPerRequest); c.Work != want {
		t.Errorf("work %s, want %s", c.Work, want)
	}
	// 10 entities × 10 features: metadata, an entity column and 10
	// feature columns with statuses and timestamps.
	if c.BodyBytes < 10*10*len(`"PRESENT",`) {
		t.Errorf("control body %d bytes", c.BodyBytes)
	}
	if !slices.ContainsFunc(logged, func(s string) bool { return strings.HasPrefix(s, "stalls: ") }) {
		t.Errorf("no stalls line in %q", logged)
	}
	var b strings.Builder
	if err := FormatServeTable(&b, results); err != nil || !strings.Contains(b.String(), "null server, ") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}

// TestNullServer checks the control's server answers every request with
// the asked-for number of bytes and that a spin step count calibrated for
// more time is more steps.
func TestNullServer(t *testing.T) {
	n, err := startNullServer(12345)
	if err != nil {
		t.Fatal(err)
	}
	n.steps.Store(spinSteps(100 * time.Microsecond))
	u, _ := url.Parse(n.url())
	c := hostClient(u, 1, 5*time.Second)
	for range 3 {
		code, body, err := c.Post(nil, n.url(), nil)
		if err != nil || code != 200 || len(body) != 12345 {
			t.Fatalf("%d, %d bytes, %v", code, len(body), err)
		}
	}
	c.CloseIdleConnections()
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	if spinSteps(0) != 0 || spinSteps(-time.Second) != 0 {
		t.Error("no work should be no steps")
	}
	if small, big := spinSteps(time.Microsecond), spinSteps(time.Millisecond); small <= 0 || big <= small {
		t.Errorf("steps for 1µs %d, for 1ms %d", small, big)
	}
}

// TestMeasureStalls checks the stall counts are consistent with each
// other; how many there are is the machine's business.
func TestMeasureStalls(t *testing.T) {
	s := MeasureStalls(context.Background(), 50*time.Millisecond)
	if s.Threads != runtime.GOMAXPROCS(0) || s.Duration < 50*time.Millisecond {
		t.Fatalf("%+v", s)
	}
	if s.Over5ms > s.Over1ms || s.Over1ms > s.Over200us || s.Over200us > s.Over50us {
		t.Errorf("bounds not nested: %+v", s)
	}
	if s.Lost < time.Duration(s.Over50us)*50*time.Microsecond || s.Max > s.Lost {
		t.Errorf("lost %s for %d gaps, longest %s", s.Lost, s.Over50us, s.Max)
	}
	if f := s.LostFraction(); f < 0 || f > 1 {
		t.Errorf("lost fraction %g", f)
	}
	if !strings.Contains(s.String(), "threads") {
		t.Error(s.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s := MeasureStalls(ctx, time.Hour); s.Duration > time.Minute {
		t.Errorf("a cancelled measurement ran %s", s.Duration)
	}
}

// TestServeRunRedis runs the scenario on a real redis-server: Redis's own
// CPU per request is charged from its INFO cpu.
func TestServeRunRedis(t *testing.T) {
	run := ServeRun{Dir: t.TempDir(), Entities: 500, Store: redistest.StartServer(t), Shapes: []string{"10x10"},
		Conns: []int{2}, Duration: 200 * time.Millisecond, Warmup: 20 * time.Millisecond, Bodies: 5}
	var results []ServeResult
	if err := run.Run(context.Background(), func(r ServeResult) { results = append(results, r) }); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Load.Requests == 0 || results[0].Load.Errors != 0 {
		t.Fatalf("results %+v", results)
	}
	if r := results[0]; r.StoreCPUPerRequest <= 0 || r.StoreCPUPerRequest > time.Second {
		t.Errorf("Redis CPU per request %s", r.StoreCPUPerRequest)
	}
	var b strings.Builder
	if err := FormatServeTable(&b, results); err != nil || !strings.Contains(b.String(), "redis://") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}
