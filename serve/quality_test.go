package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// qualityT0 is the time the quality fixtures serve at.
var qualityT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const qualityDefs = `
entities { name: "entity" join_keys { name: "entity_id" type: INT64 } }
sources { name: "src" parquet { path: "q.parquet" } timestamp_column: "event_ts" }
feature_views { name: "gated" entities: "entity" source: "src" online: true
  max_freshness_lag { seconds: 3600 }
  features { name: "n" type: INT64 expect { min: 0 max: 10 } }
  features { name: "x" type: DOUBLE expect { max: 1 not_nan: true max_null_fraction: 0 } }
  features { name: "s" type: STRING expect { allowed_values: "a" allowed_values: "b" } }
  features { name: "b" type: BOOL expect { allowed_values: "true" } }
  features { name: "free" type: DOUBLE }
  aggregations { name: "x_max" function: MAX expr: "x" window { seconds: 86400 } hop { seconds: 3600 } expect { max: 1 } }
}
feature_views { name: "plain" entities: "entity" source: "src" online: true
  features { name: "n" type: INT64 }
  features { name: "x" type: DOUBLE }
}
`

type qualityRow struct {
	ID   int64    `parquet:"entity_id"`
	TS   int64    `parquet:"event_ts,timestamp(microsecond)"`
	N    *int64   `parquet:"n,optional"`
	X    *float64 `parquet:"x,optional"`
	S    *string  `parquet:"s,optional"`
	B    *bool    `parquet:"b,optional"`
	Free *float64 `parquet:"free,optional"`
}

// qualityRows is one row per entity 0..n-1, entity e's event e minutes
// before qualityT0, with values that break each rule now and then and
// nulls now and then.
func qualityRows(n int) []qualityRow {
	r := rand.New(rand.NewPCG(7, 8))
	rows := make([]qualityRow, n)
	for e := range rows {
		row := qualityRow{ID: int64(e), TS: qualityT0.Add(-time.Duration(e) * time.Minute).UnixMicro()}
		if r.IntN(5) > 0 {
			v := int64(r.IntN(16)) - 3 // -3..12: min and max broken
			row.N = &v
		}
		if r.IntN(5) > 0 {
			v := r.Float64() * 1.2
			if r.IntN(10) == 0 {
				v = math.NaN()
			}
			row.X = &v
		}
		if r.IntN(5) > 0 {
			v := []string{"a", "b", "c"}[r.IntN(3)]
			row.S = &v
		}
		if r.IntN(5) > 0 {
			v := r.IntN(2) == 0
			row.B = &v
		}
		f := r.Float64() * 100 // no gate: never counted
		row.Free = &f
		rows[e] = row
	}
	return rows
}

// qualityServer materialises qualityRows(n) (violations allowed) and
// returns a feature server over it serving at *now.
func qualityServer(t testing.TB, n int, now *time.Time) (*featureServer, []qualityRow) {
	t.Helper()
	dir := t.TempDir()
	rows := qualityRows(n)
	if err := parquet.WriteFile(filepath.Join(dir, "q.parquet"), rows, parquet.MaxRowsPerRowGroup(100)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "defs.textproto"), []byte(qualityDefs), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := gatedServer(t, filepath.Join(dir, "defs.textproto"), qualityT0, func() time.Time { return *now })
	return fs, rows
}

// gatedServer applies the definitions file defs, materialises it up to
// end with violations allowed, and returns a feature server over it.
func gatedServer(t testing.TB, defs string, end time.Time, now func() time.Time) *featureServer {
	t.Helper()
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, origins, err := registry.LoadFiles([]string{defs})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, compute.NewChecker())
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Registry().Apply(d, registry.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := featurestore.Materialize(context.Background(), res.Snapshot.Index, st.Online(), featurestore.MaterializeOptions{End: end, Full: true, AllowViolations: true}); err != nil {
		t.Fatal(err)
	}
	fs := newFeatureServer(st.Online(), st.Registry(), Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)), now)
	if len(fs.cat.Load().broken) > 0 {
		t.Fatalf("broken views: %v", fs.cat.Load().broken)
	}
	return fs
}

// counterValues returns the values of the counter family name in reg, by
// their labels joined as "k=v,k=v" in label order.
func counterValues(t testing.TB, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			out[labelKey(m.Label)] = m.GetCounter().GetValue()
		}
	}
	return out
}

func labelKey(ls []*dto.LabelPair) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// refViolations is the reference: for the rows of ids, the count of
// PRESENT values breaking each rule, by "view=gated,feature=F,rule=R",
// written from the definition by hand rather than through compute.
func refViolations(rows []qualityRow, ids []int) map[string]float64 {
	want := map[string]float64{}
	add := func(feature, rule string) { want["feature="+feature+",rule="+rule+",view=gated"]++ }
	for _, id := range ids {
		if id < 0 || id >= len(rows) {
			continue // not found: nulls
		}
		r := rows[id]
		switch {
		case r.N == nil:
		case *r.N < 0:
			add("n", "min")
		case *r.N > 10:
			add("n", "max")
		}
		if r.X != nil {
			switch {
			case *r.X > 1:
				add("x", "max")
				add("x_max", "max")
			case *r.X != *r.X:
				add("x", "not_nan")
			}
		}
		if r.S != nil && *r.S != "a" && *r.S != "b" {
			add("s", "allowed_values")
		}
		if r.B != nil && !*r.B {
			add("b", "allowed_values")
		}
	}
	return want
}

func qualityBody(features []string, ids []int) []byte {
	var b strings.Builder
	b.WriteString(`{"features":[`)
	for i, f := range features {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q", f)
	}
	b.WriteString(`],"entities":{"entity_id":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, id)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

var gatedFeatures = []string{"gated:n", "gated:x", "gated:s", "gated:b", "gated:free", "gated:x_max"}

// TestQualityCounters: served values breaking row rules are counted per
// feature and rule, exactly as a hand-written reference counts them, over
// random requests (entities found and not found, words of the validity
// bitmap full, partial and empty); outputs a request does not read and
// views without gates count nothing.
func TestQualityCounters(t *testing.T) {
	now := qualityT0
	fs, rows := qualityServer(t, 300, &now)
	cat := fs.cat.Load()
	if cat.views["plain"].quality != nil {
		t.Error("view without gates has serve-time gates")
	}
	q := cat.views["gated"].quality
	if q == nil || len(q.gates) != 5 || q.maxLag != 3600e6 {
		t.Fatalf("gated view: compiled %+v", q)
	}
	r := rand.New(rand.NewPCG(1, 1))
	want := map[string]float64{}
	var ctx fasthttp.RequestCtx
	for i := 0; i < 40; i++ {
		ids := make([]int, 1+r.IntN(150))
		for j := range ids {
			ids[j] = r.IntN(len(rows) + 20) // some not found
		}
		call(fs, &ctx, qualityBody(gatedFeatures, ids))
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		for k, v := range refViolations(rows, ids) {
			want[k] += v
		}
	}
	// Features the request does not read are not checked: only "n" here.
	ids := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	call(fs, &ctx, qualityBody([]string{"gated:n", "plain:x"}, ids))
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	for k, v := range refViolations(rows, ids) {
		if strings.Contains(k, "feature=n,") {
			want[k] += v
		}
	}
	got := counterValues(t, fs.m.reg, "fstore_quality_violations_total")
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("%s: counted %v, want none", k, v)
		}
	}
	// Every counter of a gate's rules exists from the start (at 0 if never
	// broken), and only those.
	for _, k := range []string{
		"feature=n,rule=min,view=gated", "feature=n,rule=max,view=gated",
		"feature=x,rule=max,view=gated", "feature=x,rule=not_nan,view=gated",
		"feature=s,rule=allowed_values,view=gated", "feature=b,rule=allowed_values,view=gated",
		"feature=x_max,rule=max,view=gated",
	} {
		if _, ok := got[k]; !ok {
			t.Errorf("no counter %s", k)
		}
	}
	if len(got) != 7 {
		t.Errorf("%d counters, want 7: %v", len(got), got)
	}
	if t.Failed() {
		t.Logf("got %v", got)
	}
}

// TestQualityFreshness: a request whose newest served row of a view lags
// the request's time by more than max_freshness_lag counts one for the
// view; exactly the lag is fresh; a request finding no row counts nothing.
func TestQualityFreshness(t *testing.T) {
	now := qualityT0
	fs, _ := qualityServer(t, 300, &now)
	fresh := func() float64 {
		return counterValues(t, fs.m.reg, "fstore_quality_freshness_violations_total")["view=gated"]
	}
	var ctx fasthttp.RequestCtx
	get := func(ids ...int) {
		t.Helper()
		call(fs, &ctx, qualityBody([]string{"gated:n", "gated:s"}, ids))
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	// Entity e's event is e minutes before T0; the newest of a request
	// decides.
	for _, c := range []struct {
		now  time.Time
		ids  []int
		want float64
	}{
		{qualityT0, []int{0, 200}, 0},                                 // newest lags 0
		{qualityT0, []int{60}, 0},                                     // exactly 1h: fresh
		{qualityT0, []int{61}, 1},                                     // 61 min
		{qualityT0, []int{61, 120, 299}, 1},                           // one per request
		{qualityT0, []int{5000, 6000}, 0},                             // no row: not stale
		{qualityT0, []int{5000, 90}, 1},                               // found rows decide
		{qualityT0.Add(59 * time.Minute), []int{0, 100}, 0},           // 59 min
		{qualityT0.Add(time.Hour + time.Microsecond), []int{0, 1}, 1}, // just over
		{qualityT0.Add(-2 * time.Hour), []int{190, 250}, 1},           // 70 min
		{qualityT0.Add(-2 * time.Hour), []int{110, 250}, 0},           // 10 min after "now": lag negative
	} {
		now = c.now
		before := fresh()
		get(c.ids...)
		if got := fresh() - before; got != c.want {
			t.Errorf("now %s, entities %v: %v freshness violations, want %v", c.now.Sub(qualityT0), c.ids, got, c.want)
		}
	}
	if got := counterValues(t, fs.m.reg, "fstore_quality_freshness_violations_total"); len(got) != 1 {
		t.Errorf("freshness counters %v, want gated only", got)
	}
}

// startGatedExample starts a server over the ride-hailing example with
// gates added by gate, materialised with violations allowed.
func startGatedExample(t *testing.T, gate func(d *def.Definitions)) *featureEnv {
	t.Helper()
	d, data := exampleDefs(t)
	gate(d)
	env := &featureEnv{now: rides.DefaultEnd, data: data}
	env.testServer = startServerWith(t, func(st *featurestore.Store, cfg *Config) {
		res, err := st.Registry().Apply(d, registry.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := featurestore.Materialize(context.Background(), res.Snapshot.Index, st.Online(), featurestore.MaterializeOptions{End: rides.DefaultEnd, Full: true, AllowViolations: true}); err != nil {
			t.Fatal(err)
		}
		env.online = st.Online()
		cfg.Now = func() time.Time { return env.now }
	})
	env.serve = fstorev1.NewServingServiceClient(env.conn)
	return env
}

func viewDef(t *testing.T, d *def.Definitions, name string) *def.FeatureView {
	t.Helper()
	for _, v := range d.FeatureViews {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no view %q", name)
	return nil
}

// TestPushQualityRejected: a push whose event breaks a row rule of a view
// reading the push source is refused whole, with 400 and the exact
// message over HTTP and InvalidArgument over gRPC, and writes nothing.
func TestPushQualityRejected(t *testing.T) {
	env := startGatedExample(t, func(d *def.Definitions) {
		v := viewDef(t, d, "driver_trips")
		for i := range v.Aggregations {
			if v.Aggregations[i].Name == "fare_max_24h" {
				v.Aggregations[i].Expect = &def.Expectation{Max: ptrTo(200.0)}
			}
		}
	})
	read := func() float64 {
		r := env.get(t, `{"features":["driver_trips:trips_24h"],"entities":{"driver_id":[1001]}}`)
		n, _ := r.Results[1].Values[0].(float64)
		return n
	}
	before := read()
	ts := env.now.Add(-time.Minute).Format(time.RFC3339)
	const want = `view "driver_trips": events[1].fare: 250 is above max 200 (expect of driver_trips:fare_max_24h)`
	code, b := post(t, env.httpURL+"/push", `{"push_source_name":"trips_live","df":{
		"trip_id":[1,2],"driver_id":[1001,1001],"rider_id":[1,2],"event_ts":["`+ts+`","`+ts+`"],
		"fare":[10,250],"completed":[true,true]}}`)
	var e struct{ Error string }
	if err := json.Unmarshal(b, &e); err != nil || code != 400 || e.Error != want {
		t.Errorf("HTTP push: %d %s\nwant 400 {\"error\":%q}", code, b, want)
	}
	v := func(k *fstorev1.Value) *fstorev1.RepeatedValue {
		return &fstorev1.RepeatedValue{Val: []*fstorev1.Value{k}}
	}
	_, err := env.serve.Push(context.Background(), &fstorev1.PushRequest{PushSourceName: "trips_live", Columns: map[string]*fstorev1.RepeatedValue{
		"driver_id": v(&fstorev1.Value{Kind: &fstorev1.Value_Int64Val{Int64Val: 1001}}),
		"event_ts":  v(&fstorev1.Value{Kind: &fstorev1.Value_Int64Val{Int64Val: env.now.Add(-time.Second).UnixMicro()}}),
		"fare":      v(&fstorev1.Value{Kind: &fstorev1.Value_DoubleVal{DoubleVal: 250}}),
		"completed": v(&fstorev1.Value{Kind: &fstorev1.Value_BoolVal{BoolVal: true}}),
	}})
	const wantGRPC = `view "driver_trips": events[0].fare: 250 is above max 200 (expect of driver_trips:fare_max_24h)`
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || st.Message() != wantGRPC {
		t.Errorf("gRPC push: %v\nwant InvalidArgument %q", err, wantGRPC)
	}
	if n := read(); n != before {
		t.Errorf("trips_24h %v after rejected pushes, want %v", n, before)
	}
	// The filter applies first: a cancelled trip is no input of the
	// aggregation, so its fare breaks nothing.
	code, b = post(t, env.httpURL+"/push", `{"push_source_name":"trips_live","df":{"driver_id":[1001],"event_ts":["`+ts+`"],"fare":[250],"completed":[false]}}`)
	if code != 200 {
		t.Errorf("push of a filtered-out event: %d %s", code, b)
	}
	// At the bound: accepted.
	code, b = post(t, env.httpURL+"/push", `{"push_source_name":"trips_live","df":{"driver_id":[1001],"event_ts":["`+ts+`"],"fare":[200],"completed":[true]}}`)
	if code != 200 {
		t.Errorf("push at max: %d %s", code, b)
	}
	if n := read(); n != before+1 {
		t.Errorf("trips_24h %v after one accepted completed trip, want %v", n, before+1)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestQualityMetricsEndToEnd: /metrics of a running server counts the
// served values breaking a gate of the example (conv_rate above 0.5), as
// featurestore.Read reports them, and a stale view per request.
func TestQualityMetricsEndToEnd(t *testing.T) {
	env := startGatedExample(t, func(d *def.Definitions) {
		v := viewDef(t, d, "driver_hourly")
		v.Features[0].Expect = &def.Expectation{Max: ptrTo(0.5)} // conv_rate
		v.MaxFreshnessLag = time.Second
	})
	ids := []any{1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 999}
	vals, statuses, times := env.expected(t, "driver_hourly", "conv_rate", "driver_id", ids)
	var above int
	newest := time.Time{}
	for i, v := range vals {
		if statuses[i] == "PRESENT" && v.(float64) > 0.5 {
			above++
		}
		if ts, _ := time.Parse(time.RFC3339Nano, times[i]); statuses[i] != "NOT_FOUND" && ts.After(newest) {
			newest = ts
		}
	}
	if above == 0 || newest.IsZero() {
		t.Fatalf("fixture: %d values above 0.5 (want some), newest event %v: %v %v", above, newest, vals, statuses)
	}
	stale := 0
	if env.now.Sub(newest) > time.Second {
		stale = 2
	}
	idJSON, _ := json.Marshal(ids)
	for range 2 {
		env.get(t, `{"features":["driver_hourly:conv_rate","driver_hourly:rating"],"entities":{"driver_id":`+string(idJSON)+`}}`)
	}
	resp, err := http.Get(env.httpURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`fstore_quality_violations_total{feature="conv_rate",rule="max",view="driver_hourly"} %d`, 2*above),
		fmt.Sprintf(`fstore_quality_freshness_violations_total{view="driver_hourly"} %d`, stale),
	} {
		if !bytes.Contains(b, []byte(want+"\n")) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", b)
	}
}

// BenchmarkGetOnlineFeaturesQuality measures the cost of serve-time gates:
// the wide view of BenchmarkGetOnlineFeatures without gates, and with a
// min/max gate on every feature and a freshness bound (gates=on).
//
//	go test ./serve -run '^$' -bench GetOnlineFeaturesQuality -benchmem -count 8 | benchstat -col /gates -
func BenchmarkGetOnlineFeaturesQuality(b *testing.B) {
	const entities = 10_000
	servers := map[string]*featureServer{}
	for _, gates := range []string{"off", "on"} {
		data := wideData(b, entities, 50)
		if gates == "on" {
			path := filepath.Join(data, "defs.textproto")
			text, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			// Values are uniform in [0, 1): a tenth break max 0.9.
			s := strings.ReplaceAll(string(text), "type: DOUBLE }", "type: DOUBLE expect { min: 0 max: 0.9 } }")
			s = strings.Replace(s, "online: true\n", "online: true max_freshness_lag { seconds: 60 }\n", 1)
			if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		servers[gates] = gatedServer(b, filepath.Join(data, "defs.textproto"), rides.DefaultEnd, nil)
	}
	if servers["off"].cat.Load().views["wide"].quality != nil || servers["on"].cat.Load().views["wide"].quality == nil {
		b.Fatal("fixture: gates not as named")
	}
	for _, shape := range []struct{ ne, nf int }{{1, 10}, {100, 10}, {100, 50}} {
		for _, gates := range []string{"off", "on"} {
			b.Run(fmt.Sprintf("shape=%dx%d/gates=%s", shape.ne, shape.nf, gates), func(b *testing.B) {
				fs := servers[gates]
				r := rand.New(rand.NewPCG(3, 4))
				bodies := make([][]byte, 64)
				for i := range bodies {
					bodies[i] = wideBody(r, entities, shape.ne, shape.nf)
				}
				var ctx fasthttp.RequestCtx
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					call(fs, &ctx, bodies[i%len(bodies)])
					if ctx.Response.StatusCode() != 200 {
						b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
					}
				}
				b.ReportMetric(float64(b.N*shape.ne)/b.Elapsed().Seconds(), "entities/s")
			})
		}
	}
}
