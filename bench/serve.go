package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/valyala/fasthttp"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/serve"
)

// ServeData is the serve scenario's deterministic dataset: Entities
// entities keyed by entity_id INT64, each with one row of 50 DOUBLE
// features f1..f50 (every tenth entity also has an older row, so that
// materialisation has a latest row to pick), and two online views over
// the same file: fv10 (f1..f10) and fv50 (f1..f50), served as s10 and s50.
type ServeData struct {
	Dir string
	// Entities is the number of entities. Default 100,000.
	Entities int
	Seed     uint64
}

// ServeViews are the scenario's feature views.
var ServeViews = []string{"fv10", "fv50"}

// serveFeatures is the number of feature columns in the source file.
const serveFeatures = 50

// serveEnd is the time the online state is materialised up to: after
// every event of the dataset (which spans base to base + 1 h), and fixed,
// so that a second run finds the state up to date.
var serveEnd = time.UnixMicro(base).Add(24 * time.Hour)

func (c ServeData) entities() int {
	if c.Entities <= 0 {
		return 100_000
	}
	return c.Entities
}

// ServeDefinitions returns the scenario's definitions. Neither view has a
// TTL, so reads at any later time find every value PRESENT.
func ServeDefinitions() string {
	var b strings.Builder
	b.WriteString(`entities { name: "entity" join_keys { name: "entity_id" type: INT64 } }
sources { name: "features" parquet { path: "features" } timestamp_column: "event_ts" }
`)
	for _, v := range []struct {
		name string
		n    int
	}{{"fv10", 10}, {"fv50", 50}} {
		fmt.Fprintf(&b, "feature_views {\n  name: %q entities: \"entity\" source: \"features\" online: true\n", v.name)
		for f := 1; f <= v.n; f++ {
			fmt.Fprintf(&b, "  features { name: \"f%d\" type: DOUBLE }\n", f)
		}
		b.WriteString("}\n")
	}
	b.WriteString(`feature_services { name: "s10" features: "fv10:*" }
feature_services { name: "s50" features: "fv50:*" }
models { name: "` + ServeModel + `" feature_service: "s50" }
`)
	return b.String()
}

// Generate writes Dir/definitions.textproto and Dir/features/part-0.parquet.
// Rows are built as parquet.Rows against a schema made at run time, since
// a Go struct of 50 feature fields would be mostly boilerplate.
func (c ServeData) Generate() error {
	if err := os.MkdirAll(filepath.Join(c.Dir, "features"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "definitions.textproto"), []byte(ServeDefinitions()), 0o644); err != nil {
		return err
	}
	group := parquet.Group{
		"entity_id": parquet.Int(64),
		"event_ts":  parquet.Timestamp(parquet.Microsecond),
	}
	for f := 1; f <= serveFeatures; f++ {
		group["f"+strconv.Itoa(f)] = parquet.Leaf(parquet.DoubleType)
	}
	schema := parquet.NewSchema("features", group)
	// A Group orders its columns by name: look each column's index up.
	col := map[string]int{}
	for i, path := range schema.Columns() {
		col[path[0]] = i
	}
	idCol, tsCol := col["entity_id"], col["event_ts"]
	featCol := make([]int, serveFeatures)
	for f := range featCol {
		featCol[f] = col["f"+strconv.Itoa(f+1)]
	}

	path := filepath.Join(c.Dir, "features", "part-0.parquet")
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	w := parquet.NewWriter(file, schema, parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}), parquet.MaxRowsPerRowGroup(128<<10))
	r := rand.New(rand.NewPCG(c.Seed+1, 42))
	// Rows are filled in place chunk after chunk: WriteRows copies them.
	rows := make([]parquet.Row, 4096)
	for i := range rows {
		rows[i] = make(parquet.Row, len(group))
	}
	n := 0
	flush := func() error {
		_, err := w.WriteRows(rows[:n])
		n = 0
		return err
	}
	emit := func(id, ts int64) error {
		row := rows[n]
		row[idCol] = parquet.Int64Value(id).Level(0, 0, idCol)
		row[tsCol] = parquet.Int64Value(ts).Level(0, 0, tsCol)
		for f, ci := range featCol {
			row[ci] = parquet.DoubleValue(r.Float64()*float64(f+1)).Level(0, 0, ci)
		}
		if n++; n == len(rows) {
			return flush()
		}
		return nil
	}
	for e := range c.entities() {
		if e%10 == 0 {
			if err = emit(int64(e), base+int64(e)); err != nil {
				break
			}
		}
		if err = emit(int64(e), base+3_600_000_000+int64(e)); err != nil {
			break
		}
	}
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = w.Close()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bench: cannot write %s: %w", path, err)
	}
	return nil
}

// Load applies the scenario's definitions to st's registry and
// materialises both views into online in full, up to a fixed time after
// the data. online may be st.Online() or a networked store.
func (c ServeData) Load(ctx context.Context, online featurestore.OnlineStore, st *featurestore.Store) error {
	snap, err := applyDefinitions(st, filepath.Join(c.Dir, "definitions.textproto"), "bench serve")
	if err != nil {
		return err
	}
	_, err = featurestore.Materialize(ctx, snap.Index, online, featurestore.MaterializeOptions{
		Views: ServeViews, Full: true, End: serveEnd,
	})
	return err
}

// Loaded reports whether st's registry holds the scenario's views and
// online holds their state, materialised by Load with the same
// definitions, so that a second run over the same directory and store
// can skip loading. It does not notice data regenerated with another
// seed or size.
func (c ServeData) Loaded(ctx context.Context, online featurestore.OnlineStore, st *featurestore.Store) (bool, error) {
	ix := st.Registry().Latest().Index
	for _, name := range ServeViews {
		v := ix.FeatureView(name)
		if v == nil {
			return false, nil
		}
		ov, err := featurestore.CompileOnline(ix, v)
		if err != nil {
			return false, err
		}
		wm, err := featurestore.ReadWatermark(ctx, online, ov)
		if err != nil {
			return false, err
		}
		if wm.SchemaVersion != ov.Layout.SchemaVersion || wm.Through != serveEnd.UnixMicro() {
			return false, nil
		}
	}
	return true, nil
}

// ParseServeShape parses a request shape "NxM": N entities per request
// (at least 1) and M features, 10 (from fv10) or 50 (from fv50).
func ParseServeShape(shape string) (entities, features int, err error) {
	ns, ms, ok := strings.Cut(shape, "x")
	n, nerr := strconv.Atoi(ns)
	m, merr := strconv.Atoi(ms)
	if !ok || nerr != nil || merr != nil || n < 1 || (m != 10 && m != 50) {
		return 0, 0, fmt.Errorf("%w: shape %q: want ENTITIESxFEATURES with FEATURES 10 or 50, e.g. 1x10, 100x10, 100x50", ErrInvalidConfig, shape)
	}
	return n, m, nil
}

// ServeBodies returns count Feast-shaped request bodies of shape (see
// ParseServeShape), each naming the shape's features and its number of
// entity ids drawn uniformly from [0, entities) (entities ≤ 0: the
// ServeData default), deterministically from seed. It panics on an
// invalid shape: callers validate shapes with ParseServeShape first.
func ServeBodies(shape string, entities, count int, seed uint64) [][]byte {
	n, m, err := ParseServeShape(shape)
	if err != nil {
		panic(err)
	}
	entities = ServeData{Entities: entities}.entities()
	view := "fv" + strconv.Itoa(m)
	prefix := []byte(`{"features":[`)
	for f := 1; f <= m; f++ {
		if f > 1 {
			prefix = append(prefix, ',')
		}
		prefix = append(prefix, '"')
		prefix = append(prefix, view...)
		prefix = append(prefix, ":f"...)
		prefix = strconv.AppendInt(prefix, int64(f), 10)
		prefix = append(prefix, '"')
	}
	prefix = append(prefix, `],"entities":{"entity_id":[`...)
	return bodiesWithIDs(prefix, n, entities, count, rand.New(rand.NewPCG(seed+1, uint64(n)<<8|uint64(m))))
}

// bodiesWithIDs returns count bodies: prefix, n entity ids drawn from
// [0, entities) by r, comma-separated, then "]}}".
func bodiesWithIDs(prefix []byte, n, entities, count int, r *rand.Rand) [][]byte {
	bodies := make([][]byte, max(count, 0))
	for i := range bodies {
		b := append(make([]byte, 0, len(prefix)+n*7+3), prefix...)
		for e := range n {
			if e > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, r.Int64N(int64(entities)), 10)
		}
		bodies[i] = append(b, "]}}"...)
	}
	return bodies
}

// ServeRun configures the serve scenario: the feature server runs in this
// process over the dataset in Dir, and for every shape and connection
// count a closed-loop run finds the saturation throughput, then an
// open-loop run at half of it measures latency — the tail a server shows
// at a sustainable load, which is what capacity planning needs, instead of
// the queueing delay of a saturated one.
type ServeRun struct {
	// Dir holds the dataset (generated with ServeData{Dir, Entities, Seed}
	// when Dir/definitions.textproto is missing) and the data directory
	// Dir/fstore-data.
	Dir string
	// Store is the online store: "" or "pebble" for the embedded one, or
	// a redis:// or redis-cluster:// URL.
	Store string
	// Shapes are request shapes (see ParseServeShape): "NxM" for
	// /get-online-features, "predict:Nx50" for /v1/predict with the
	// scenario's model (ServeModel, an MLP over fv50). Default 1x10,
	// 100x10, 100x50.
	Shapes []string
	// Conns are the connection counts to run each shape with. Default 1,
	// 8, 32.
	Conns []int
	// Duration is the length of each measured run (two per shape and
	// connection count). Default 10s.
	Duration time.Duration
	// Warmup precedes each run, unmeasured. Default 1s.
	Warmup time.Duration
	// Entities and Seed size and seed the dataset (see ServeData) and the
	// entity ids of requests. Entities defaults to 100,000.
	Entities int
	Seed     uint64
	// Bodies is the number of distinct request bodies per shape, sent
	// round-robin. Default 1,000.
	Bodies int
	// Timeout bounds each request. Default 10s.
	Timeout time.Duration
	// URL, when set, is a running server (fstore serve over Dir's data
	// directory, loaded by an earlier run) to measure instead of one
	// started in this process: the load generator then has its own
	// process, and the process CPU per request is the generator's alone.
	URL string
	// Batching is the model servers' batching policy (zero: serve's
	// defaults).
	Batching serve.BatchPolicy
	// Control adds, after each measured run, a control run against a null
	// server burning the same CPU per request (see ControlResult), and
	// measures the machine's stalls (MeasureStalls) once before the first
	// run: what of each tail is the machine's.
	Control bool
	// Log, when set, receives one line per step (generating, loading,
	// each run), for a long run's progress.
	Log func(format string, args ...any)
}

// ServeResult is the outcome of one shape at one connection count.
type ServeResult struct {
	Shape string
	Conns int
	// Store names the online store ("pebble", or the URL without its
	// password).
	Store string
	// Saturation is the closed-loop throughput in requests per second.
	Saturation float64
	// Load is the open-loop run at half of Saturation.
	Load LoadResult
	// StoreCPUPerRequest is the CPU the online store's own processes used
	// during the open-loop run per request (Redis's INFO cpu, summed over a
	// cluster); 0 for the embedded store, whose work is in the process's.
	StoreCPUPerRequest time.Duration
	// Control is the control run of the same load, when asked for.
	Control *ControlResult
}

// serverCPU is an online store whose server processes report their CPU
// time (the Redis stores).
type serverCPU interface {
	ServerCPU(ctx context.Context) (time.Duration, error)
}

func (c *ServeRun) ensureDefaults() {
	if len(c.Shapes) == 0 {
		c.Shapes = []string{"1x10", "100x10", "100x50"}
	}
	if len(c.Conns) == 0 {
		c.Conns = []int{1, 8, 32}
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = time.Second
	}
	if c.Entities <= 0 {
		c.Entities = 100_000
	}
	if c.Bodies <= 0 {
		c.Bodies = 1_000
	}
	if c.Log == nil {
		c.Log = func(string, ...any) {}
	}
}

func (c *ServeRun) validate() error {
	if c.Dir == "" {
		return fmt.Errorf("%w: empty Dir", ErrInvalidConfig)
	}
	for _, s := range c.Shapes {
		fs, predict := isPredictShape(s)
		_, m, err := ParseServeShape(fs)
		if err != nil {
			return err
		}
		if predict && m != 50 {
			return fmt.Errorf("%w: shape %q: the model reads all of fv50, want predict:Nx50", ErrInvalidConfig, s)
		}
	}
	for _, n := range c.Conns {
		if n < 1 {
			return fmt.Errorf("%w: %d connections", ErrInvalidConfig, n)
		}
	}
	if c.Duration < 0 || c.Warmup < 0 {
		return fmt.Errorf("%w: negative Duration or Warmup", ErrInvalidConfig)
	}
	return nil
}

// storeName names the online store for reports, without credentials.
func storeName(s string) string {
	if s == "" || s == "pebble" {
		return "pebble"
	}
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// Run prepares the dataset and the store, serves it in-process on
// loopback ports, and calls report after each shape and connection count.
// The server and the load generator share the machine, so the numbers
// are a lower bound of a dedicated server's, and LoadResult's CPU per
// request covers both.
func (c ServeRun) Run(ctx context.Context, report func(ServeResult)) (err error) {
	c.ensureDefaults()
	if err := c.validate(); err != nil {
		return err
	}
	if c.URL != "" {
		return c.measure(ctx, strings.TrimSuffix(c.URL, "/"), nil, report)
	}
	data := ServeData{Dir: c.Dir, Entities: c.Entities, Seed: c.Seed}
	if _, err := os.Stat(filepath.Join(c.Dir, "definitions.textproto")); errors.Is(err, os.ErrNotExist) {
		c.Log("generating %d entities into %s", c.Entities, c.Dir)
		if err := data.Generate(); err != nil {
			return err
		}
	}
	st, err := featurestore.Open(filepath.Join(c.Dir, "fstore-data"), nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	online, err := st.OpenOnline(c.Store, featurestore.StoreTimeouts{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, online.Close()) }()
	loaded, err := data.Loaded(ctx, online, st)
	if err != nil {
		return err
	}
	if !loaded {
		c.Log("loading into %s", storeName(c.Store))
		began := time.Now()
		if err := data.Load(ctx, online, st); err != nil {
			return err
		}
		c.Log("loaded in %s", time.Since(began).Round(time.Millisecond))
	}

	for _, shape := range c.Shapes {
		if _, predict := isPredictShape(shape); predict {
			if err := ensureServeModel(st, filepath.Join(c.Dir, "definitions.textproto"), c.Seed); err != nil {
				return err
			}
			break
		}
	}

	srvCtx, stop := context.WithCancel(ctx)
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve.Run(srvCtx, serve.Config{
			Store: st, Online: online, Batching: c.Batching,
			HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0",
			OnListen: func(h, _ net.Addr) { addrc <- h },
			Logger:   slog.New(slog.DiscardHandler),
		})
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-errc:
		stop()
		if err == nil { // ctx ended as the server started
			err = ctx.Err()
		}
		return err
	}
	// The server stops before the stores close (deferred above).
	defer func() {
		stop()
		err = errors.Join(err, <-errc)
	}()
	sc, _ := online.(serverCPU)
	return c.measure(ctx, "http://"+addr.String(), sc, report)
}

// measure runs every shape and connection count against the server at
// base; store, when not nil, charges each open-loop run its store's CPU.
func (c ServeRun) measure(ctx context.Context, base string, store serverCPU, report func(ServeResult)) error {
	label := storeName(c.Store)
	if c.URL != "" && c.Store == "" {
		label = c.URL
	}
	if c.Control {
		d := min(3*time.Second, c.Duration)
		c.Log("measuring this machine's stalls for %s (every core busy)", d)
		c.Log("stalls: %s", MeasureStalls(ctx, d))
	}
	for _, shape := range c.Shapes {
		endpoint := base + "/get-online-features"
		var bodies [][]byte
		if fs, predict := isPredictShape(shape); predict {
			n, _, _ := ParseServeShape(fs)
			endpoint = base + "/v1/predict"
			bodies = PredictBodies(n, c.Entities, c.Bodies, c.Seed)
		} else {
			bodies = ServeBodies(shape, c.Entities, c.Bodies, c.Seed)
		}
		bodyBytes, err := checkEndpoint(endpoint, bodies[0], c.Timeout)
		if err != nil {
			return err
		}
		for _, conns := range c.Conns {
			cfg := LoadConfig{URL: endpoint, Bodies: bodies, Conns: conns,
				Duration: c.Duration, Warmup: c.Warmup, Timeout: c.Timeout}
			c.Log("%s × %d conns: saturating for %s", shape, conns, c.Duration)
			sat, err := Saturate(ctx, cfg)
			if err != nil {
				return fmt.Errorf("bench: serve %s with %d conns: %w", shape, conns, err)
			}
			cfg.Rate = sat / 2
			c.Log("%s × %d conns: %.0f req/s saturated; open loop at %.0f req/s for %s", shape, conns, sat, cfg.Rate, c.Duration)
			var storeCPU time.Duration
			if store != nil {
				if storeCPU, err = store.ServerCPU(ctx); err != nil {
					return err
				}
			}
			res, err := Load(ctx, cfg)
			if err != nil {
				return fmt.Errorf("bench: serve %s with %d conns: %w", shape, conns, err)
			}
			result := ServeResult{Shape: shape, Conns: conns, Store: label, Saturation: sat, Load: res}
			if store != nil {
				// The warm-up's share is in the difference too: charge
				// it to the requests sent during it as well.
				after, err := store.ServerCPU(ctx)
				if err != nil {
					return err
				}
				if sent := res.Requests + int64(cfg.Warmup.Seconds()*cfg.Rate); sent > 0 {
					result.StoreCPUPerRequest = (after - storeCPU) / time.Duration(sent)
				}
			}
			if c.Control {
				c.Log("%s × %d conns: control runs against a null server answering %d bytes", shape, conns, bodyBytes)
				ctl, err := runControl(ctx, cfg, res, bodyBytes)
				if err != nil {
					return fmt.Errorf("bench: serve %s with %d conns: %w", shape, conns, err)
				}
				result.Control = &ctl
			}
			report(result)
		}
	}
	return nil
}

// checkEndpoint sends one request and fails unless it succeeds, so that a
// server that cannot answer the scenario's requests stops the run with
// its own message instead of a table of errors. It returns the length of
// the response body.
func checkEndpoint(endpoint string, body []byte, timeout time.Duration) (int, error) {
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return 0, err
	}
	// A HostClient, unlike a Client, starts no cleaner of its own per
	// host: Load's ignore list of fasthttp goroutines covers it.
	c := hostClient(u, 1, timeout)
	defer c.CloseIdleConnections()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(endpoint)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	if err := c.DoTimeout(req, resp, timeout); err != nil {
		return 0, fmt.Errorf("bench: POST %s: %w", endpoint, err)
	}
	if code := resp.StatusCode(); code < 200 || code > 299 {
		return 0, fmt.Errorf("bench: POST %s: HTTP %d: %s", endpoint, code, truncate(resp.Body(), 500))
	}
	return len(resp.Body()), nil
}

// FormatServeTable writes results as an aligned table, one row per shape
// and connection count: saturation, then the open-loop run at half of it.
func FormatServeTable(w io.Writer, results []ServeResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shape\tconns\tstore\tsaturated req/s\topen-loop req/s\tp50\tp99\tp99.9\tmax\tprocess CPU/req\tstore CPU/req\terrors\tdropped\t")
	row := func(shape string, conns int, store, sat string, l LoadResult, storeCPU time.Duration) {
		sc := "-"
		if storeCPU > 0 {
			sc = fmtLatency(storeCPU)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n",
			shape, conns, store, sat, l.Throughput,
			fmtLatency(l.P50), fmtLatency(l.P99), fmtLatency(l.P999), fmtLatency(l.Max),
			fmtLatency(l.ProcessCPUPerRequest), sc, l.Errors, l.Dropped)
	}
	for _, r := range results {
		row(r.Shape, r.Conns, r.Store, strconv.FormatFloat(r.Saturation, 'f', 0, 64), r.Load, r.StoreCPUPerRequest)
		if c := r.Control; c != nil {
			row(r.Shape, r.Conns, "null server, "+fmtLatency(c.Work)+" CPU", "-", c.Load, 0)
		}
	}
	return tw.Flush()
}

// fmtLatency writes d with three significant digits in a unit that keeps
// it between 1 and 1000.
func fmtLatency(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', precision(float64(d)/1e3), 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', precision(float64(d)/1e6), 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', precision(d.Seconds()), 64) + "s"
}

// precision is the number of decimals that give v (≥ 1) three significant
// digits.
func precision(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	}
	return 2
}
