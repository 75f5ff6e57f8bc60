package compute

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

var (
	ridesOnce sync.Once
	ridesDir  string
	ridesErr  error
)

// ridesExample writes a small copy of the example (definitions and data)
// once per test binary and returns its definitions, compiled structurally.
func ridesExample(t testing.TB) *def.Definitions {
	t.Helper()
	ridesOnce.Do(func() {
		ridesDir, ridesErr = os.MkdirTemp("", "compute-rides-")
		if ridesErr == nil {
			_, ridesErr = rides.Write(ridesDir, rides.Config{Drivers: 20, Riders: 40, Days: 2, SpineRows: 100})
		}
	})
	if ridesErr != nil {
		t.Fatal(ridesErr)
	}
	p, origins, err := registry.LoadFiles([]string{ridesDir})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestExamplePlans(t *testing.T) {
	d := ridesExample(t)
	if err := def.Validate(d, NewChecker()); err != nil {
		t.Fatalf("the example does not type-check: %v", err)
	}
	ps, err := CompileAll(def.NewIndex(d))
	if err != nil {
		t.Fatal(err)
	}
	dh := ps.Views["driver_hourly"]
	got := map[string]def.ValueType{}
	for _, o := range dh.Outputs {
		got[o.Name] = o.Type
	}
	want := map[string]def.ValueType{"conv_rate": def.Double, "acc_rate_pct": def.Double, "avg_daily_trips": def.Int64, "rating": def.Double, "trips_1h": def.Int64}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("driver_hourly output %s is %s, want %s", k, got[k], v)
		}
	}
	// The projection reads only what the plan needs, in source order.
	if names := strings.Join(dh.Input.Names(), ","); names != "driver_id,event_ts,created_ts,conv_rate,acc_rate,trips,avg_daily_trips,rating" {
		t.Errorf("driver_hourly reads %s", names)
	}
	if dh.Created < 0 || dh.TTL != 86_400_000_000 || len(dh.Keys) != 1 {
		t.Errorf("driver_hourly plan: %+v", dh)
	}
	dt := ps.Views["driver_trips"]
	if dt.Filter == nil || dt.Aggs[0].Out != def.Int64 || dt.Aggs[1].Out != def.Double || dt.Aggs[4].Out != def.Double {
		t.Errorf("driver_trips plan: filter %v aggs %+v", dt.Filter, dt.Aggs)
	}
	od := ps.OnDemand["trip_request"]
	if names := strings.Join(od.Input.Names(), ","); names != "distance_km,surge,driver_hourly.conv_rate" {
		t.Errorf("trip_request reads %s", names)
	}
}

func TestCheckerErrors(t *testing.T) {
	for _, tc := range []struct {
		edit func(d *def.Definitions)
		want string
	}{
		{func(d *def.Definitions) { d.FeatureViews[0].Features[0].Expr = "log(driver_nam)" },
			`feature_view "driver_hourly": features[0].expr: column 5 of "log(driver_nam)": unknown column "driver_nam" (did you mean "driver_id"?)`},
		{func(d *def.Definitions) {
			d.FeatureViews[0].Features[2].Type = def.Double
			d.FeatureViews[0].Features[0].Type = def.Int64
		},
			`feature_view "driver_hourly": features[0].expr: column 1 of "conv_rate": the expression is DOUBLE but the feature is declared INT64: convert it with int(...)`},
		{func(d *def.Definitions) { d.FeatureViews[1].Filter = "fare" },
			`feature_view "driver_trips": filter: column 1 of "fare": a filter must be BOOL, the expression is DOUBLE`},
		{func(d *def.Definitions) { d.FeatureViews[1].Aggregations[1].Expr = "payment_type" },
			`feature_view "driver_trips": aggregations[1]: column 1 of "payment_type": SUM needs INT64 or DOUBLE values, the expression is STRING`},
		{func(d *def.Definitions) { d.Sources[0].TimestampColumn = "event_time" },
			`feature_view "driver_hourly": source: compute: invalid plan: source "driver_stats" has no column "event_time" (did you mean "event_ts"?)`},
		{func(d *def.Definitions) { d.Sources[0].Path = "/nonexistent/stats.parquet" },
			`feature_view "driver_hourly": source: cannot read the columns of source "driver_stats": stat /nonexistent/stats.parquet: no such file or directory (declare its schema to apply definitions before the data exists)`},
		{func(d *def.Definitions) { d.OnDemandViews[0].Features[0].Expr = "distance_km * surg" },
			`on_demand_feature_view "trip_request": features[0].expr: column 15 of "distance_km * surg": unknown column "surg" (did you mean "surge"?)`},
	} {
		d := ridesExample(t)
		tc.edit(d)
		err := def.Validate(d, NewChecker())
		if err == nil || !errors.Is(err, def.ErrInvalid) {
			t.Errorf("want %s, got %v", tc.want, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error:\n%v\nlacks:\n%s", err, tc.want)
		}
	}
}

func TestParquetTypesAndUnsupportedColumns(t *testing.T) {
	ridesExample(t)
	cols, err := ParquetSchema(filepath.Join(ridesDir, "data", "driver_stats.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ParquetColumn{}
	for _, c := range cols {
		got[c.Name] = c
	}
	if c := got["event_ts"]; c.Type != def.Timestamp || c.Unit != 1 {
		t.Errorf("event_ts: %+v", c)
	}
	if c := got["conv_rate"]; c.Type != def.Double {
		t.Errorf("conv_rate: %+v", c)
	}
	if _, err := ParquetSchema(filepath.Join(ridesDir, "data", "*.nothing")); err == nil {
		t.Error("a glob that matches nothing was accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	os.WriteFile(bad, []byte("PAR1 this is not parquet PAR1"), 0o644)
	if _, err := ParquetSchema(bad); err == nil || !strings.Contains(err.Error(), "not a readable Parquet file") {
		t.Errorf("corrupt file: %v", err)
	}
	s, _ := NewSchema([]def.Field{{Name: "x", Type: def.Int64}})
	s.unsupported = map[string]string{"price": "a DECIMAL (cast it to DOUBLE when writing)"}
	if _, err := Compile("price * 2", s); err == nil || !strings.Contains(err.Error(), `column "price" is a DECIMAL (cast it to DOUBLE when writing), which fstore does not read`) {
		t.Errorf("unsupported column: %v", err)
	}
}

// fiftyFeaturePlan compiles a view of 50 features over 10 double columns.
func fiftyFeaturePlan(t testing.TB) (*ViewPlan, *Batch) {
	t.Helper()
	var fields []def.Field
	fields = append(fields, def.Field{Name: "id", Type: def.Int64}, def.Field{Name: "ts", Type: def.Timestamp})
	for i := 0; i < 10; i++ {
		fields = append(fields, def.Field{Name: "c" + string(rune('0'+i)), Type: def.Double})
	}
	v := &def.FeatureView{Name: "v", Entities: []string{"e"}, Source: "s"}
	exprs := []string{"c0 * 100", "c1 + c2", "log1p(abs(c3))", "if(c4 > 0.5, c5, c6)", "clip(c7, 0.1, 0.9)",
		"coalesce(c8, 0.0)", "bucketize(c9, 0.25, 0.5, 0.75)", "min(c0, c1, c2)", "sqrt(c3 * c3 + c4 * c4)", "c5 / (c6 + 1)"}
	for i := 0; i < 50; i++ {
		typ := def.Double
		if i%10 == 6 {
			typ = def.Int64
		}
		v.Features = append(v.Features, def.Feature{Name: "f" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Type: typ, Expr: exprs[i%10]})
	}
	d := &def.Definitions{
		Entities:     []*def.Entity{{Name: "e", JoinKeys: []def.Field{{Name: "id", Type: def.Int64}}}},
		Sources:      []*def.Source{{Name: "s", Kind: def.SourcePush, TimestampColumn: "ts", Schema: fields}},
		FeatureViews: []*def.FeatureView{v},
	}
	p, err := CompileView(def.NewIndex(d), v, fields)
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{Len: 1}
	for _, f := range p.Input.Fields {
		c := &Column{Type: f.Type, Len: 1}
		if f.Type == def.Double {
			c.F64 = []float64{0.6}
		} else {
			c.I64 = []int64{1}
		}
		b.Cols = append(b.Cols, c)
	}
	if err := p.Input.CheckBatch(b); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// BenchmarkViewOneEntity is online evaluation of a 50-feature plan for one
// entity.
func BenchmarkViewOneEntity(b *testing.B) {
	p, batch := fiftyFeaturePlan(b)
	ev := p.NewEvaluator()
	for i := range p.Features {
		ev.Feature(i, batch)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range p.Features {
			ev.Feature(i, batch)
		}
	}
}

// TestPlanEvaluation runs the example's on-demand view and the filter and
// aggregation inputs of driver_trips through the plan evaluators.
func TestPlanEvaluation(t *testing.T) {
	ps, err := CompileAll(def.NewIndex(ridesExample(t)))
	if err != nil {
		t.Fatal(err)
	}
	od := ps.OnDemand["trip_request"]
	// Request fields distance_km, surge, then the input driver_hourly.conv_rate
	// (null in the second row: an unknown driver).
	in := &Batch{Len: 2, Cols: []*Column{
		{Type: def.Double, Len: 2, F64: []float64{10, 30}},
		{Type: def.Double, Len: 2, F64: []float64{1.5, 1}},
		{Type: def.Double, Len: 2, F64: []float64{0.8, 0}, Valid: Bitmap{1}},
	}}
	if err := od.Input.CheckBatch(in); err != nil {
		t.Fatal(err)
	}
	ev := od.NewEvaluator()
	estFare := ev.Feature(0, in)
	if estFare.F64[0] != (2.5+1.2*10)*1.5 || estFare.F64[1] != (2.5+1.2*30)*1 {
		t.Errorf("est_fare = %v", estFare.F64)
	}
	long := ev.Feature(1, in)
	if long.B[0] || !long.B[1] {
		t.Errorf("long_trip = %v", long.B)
	}
	conv := ev.Feature(2, in)
	rate, surge := 0.8, 1.5 // variables: Go folds constant expressions exactly, kernels use IEEE
	if conv.Value(0) != rate*surge || conv.Value(1) != 0.0 {
		t.Errorf("conv_x_surge = %v %v (coalesce of a null input should be 0)", conv.Value(0), conv.Value(1))
	}

	dt := ps.Views["driver_trips"]
	cols := map[string]*Column{
		"trip_id": {Type: def.Int64, Len: 3, I64: []int64{1, 2, 3}}, "driver_id": {Type: def.Int64, Len: 3, I64: []int64{7, 7, 7}},
		"event_ts": {Type: def.Timestamp, Len: 3, I64: []int64{1, 2, 3}}, "fare": {Type: def.Double, Len: 3, F64: []float64{10, 0, 20}},
		"tip": {Type: def.Double, Len: 3, F64: []float64{1, 0, 5}}, "distance_km": {Type: def.Double, Len: 3, F64: []float64{3, 4, 5}},
		"completed": {Type: def.Bool, Len: 3, B: []bool{true, false, true}},
	}
	b := &Batch{Len: 3}
	for _, f := range dt.Input.Fields {
		c, ok := cols[f.Name]
		if !ok {
			t.Fatalf("driver_trips reads unexpected column %s", f.Name)
		}
		b.Cols = append(b.Cols, c)
	}
	vev := dt.NewEvaluator()
	filter := vev.Filter(b)
	if !Keep(filter, 0) || Keep(filter, 1) || !Keep(filter, 2) {
		t.Errorf("filter completed = %v", filter.B)
	}
	if vev.AggInput(0, b) != nil {
		t.Error("COUNT of events has an input column")
	}
	ratio := vev.AggInput(4, b) // tip / fare
	if ratio.F64[0] != 0.1 || ratio.F64[2] != 0.25 {
		t.Errorf("tip / fare = %v", ratio.F64)
	}
}
