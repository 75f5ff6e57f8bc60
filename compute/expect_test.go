package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fstore/fstore/featurestore/def"
)

func f64(x float64) *float64 { return &x }

// refViolations is the obviously-correct reference: every rule checked row
// by row with Column.Value, over the whole batch at once.
func refViolations(g *Gate, cols []*Column) []Violation {
	e := &g.Expect
	type acc struct {
		count int64
		first []int64
		worst any
	}
	accs := map[Rule]*acc{}
	var rows, nulls int64
	distinct := map[any]bool{}
	for _, c := range cols {
		for i := 0; i < c.Len; i++ {
			row := rows
			rows++
			v := c.Value(i)
			if v == nil {
				nulls++
				continue
			}
			if f, ok := v.(float64); ok && f == 0 {
				v = 0.0
			}
			distinct[v] = true
			var num float64
			var isNum bool
			switch x := v.(type) {
			case int64:
				num, isNum = float64(x), true
			case Timestamp:
				num, isNum = float64(x), true
			case float64:
				num, isNum = x, true
			}
			var r Rule
			switch {
			case isNum && e.Min != nil && num < *e.Min && !exactAtBound(v, *e.Min, false):
				r = RuleMin
			case isNum && e.Max != nil && num > *e.Max && !exactAtBound(v, *e.Max, true):
				r = RuleMax
			case len(e.AllowedValues) > 0 && !slices.Contains(e.AllowedValues, textOf(v)):
				r = RuleAllowedValues
			case e.NotNaN && isNum && math.IsNaN(num):
				r = RuleNotNaN
			}
			if r == 0 {
				continue
			}
			a := accs[r]
			if a == nil {
				a = &acc{}
				accs[r] = a
			}
			a.count++
			if len(a.first) < MaxFirstRows {
				a.first = append(a.first, row)
			}
			if a.worst == nil || r == RuleMin && less(v, a.worst) || r == RuleMax && less(a.worst, v) {
				a.worst = v
			}
		}
	}
	var out []Violation
	for r := RuleMin; r <= RuleNotNaN; r++ {
		if a := accs[r]; a != nil {
			obs := textOf(a.worst)
			switch w := a.worst.(type) {
			case string:
				obs = strconv.Quote(w)
			case Timestamp:
				obs = time.UnixMicro(int64(w)).UTC().Format(time.RFC3339Nano)
			}
			out = append(out, Violation{View: g.View, Feature: g.Feature, Rule: r, Limit: g.Limit(r), Observed: obs, Count: a.count, Rows: rows, FirstRows: a.first})
		}
	}
	if e.MaxNullFraction != nil && rows > 0 && float64(nulls)/float64(rows) > *e.MaxNullFraction {
		out = append(out, Violation{View: g.View, Feature: g.Feature, Rule: RuleMaxNullFraction, Limit: g.Limit(RuleMaxNullFraction),
			Observed: strconv.FormatFloat(float64(nulls)/float64(rows), 'g', 4, 64), Count: nulls, Rows: rows})
	}
	if e.MaxDistinct > 0 && int64(len(distinct)) > e.MaxDistinct {
		out = append(out, Violation{View: g.View, Feature: g.Feature, Rule: RuleMaxDistinct, Limit: g.Limit(RuleMaxDistinct),
			Observed: "more than " + strconv.FormatInt(e.MaxDistinct, 10), Count: rows, Rows: rows})
	}
	return out
}

// exactAtBound compares integers with an integral bound exactly (float64
// conversion of large int64s rounds).
func exactAtBound(v any, b float64, upper bool) bool {
	var i int64
	switch x := v.(type) {
	case int64:
		i = x
	case Timestamp:
		i = int64(x)
	default:
		return false
	}
	if upper {
		return i <= floatToIntBound(math.Floor(b))
	}
	return i >= floatToIntBound(math.Ceil(b))
}

func less(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case Timestamp:
		return x < b.(Timestamp)
	case float64:
		return x < b.(float64)
	}
	return false
}

func textOf(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case Timestamp:
		return strconv.FormatInt(int64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func randColumn(r *rand.Rand, t def.ValueType, n int, nullP float64) *Column {
	c := &Column{}
	c.ResetBitmap(t, n, false)
	for i := 0; i < n; i++ {
		if r.Float64() < nullP {
			c.Valid.Clear(i)
			continue
		}
		switch t {
		case def.Int64, def.Timestamp:
			c.I64[i] = r.Int64N(40) - 20
		case def.Double:
			switch r.IntN(20) {
			case 0:
				c.F64[i] = math.NaN()
			case 1:
				c.F64[i] = math.Copysign(0, -1)
			default:
				c.F64[i] = math.Round(r.NormFloat64()*100) / 10
			}
		case def.Bool:
			c.B[i] = r.IntN(2) == 0
		case def.String:
			c.S[i] = string(rune('a' + r.IntN(8)))
		}
	}
	if r.IntN(4) == 0 && nullP == 0 {
		c.Valid = nil
	}
	return c
}

func randExpect(r *rand.Rand, t def.ValueType) *def.Expectation {
	e := &def.Expectation{}
	if t == def.Int64 || t == def.Double || t == def.Timestamp {
		if r.IntN(2) == 0 {
			e.Min = f64(float64(r.IntN(20)-15) + []float64{0, 0.5}[r.IntN(2)])
		}
		if r.IntN(2) == 0 {
			e.Max = f64(float64(r.IntN(20)) - []float64{0, 0.5}[r.IntN(2)])
		}
		if e.Min != nil && e.Max != nil && *e.Min > *e.Max {
			e.Min, e.Max = e.Max, e.Min
		}
	}
	if t == def.Double && r.IntN(2) == 0 {
		e.NotNaN = true
	}
	if r.IntN(3) == 0 {
		switch t {
		case def.String:
			e.AllowedValues = []string{"a", "b", "c", "d", "e", "f"}[:1+r.IntN(6)]
		case def.Int64:
			for range 1 + r.IntN(12) {
				e.AllowedValues = append(e.AllowedValues, strconv.Itoa(r.IntN(40)-20))
			}
		case def.Bool:
			e.AllowedValues = []string{[]string{"true", "false"}[r.IntN(2)]}
		}
	}
	if r.IntN(3) == 0 {
		e.MaxNullFraction = f64(r.Float64() / 2)
	}
	if r.IntN(3) == 0 {
		e.MaxDistinct = int64(1 + r.IntN(30))
	}
	return e
}

// TestExpectationsMatchReference checks the word-at-a-time tally against
// the row-by-row reference on random columns, chunked at random.
func TestExpectationsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	types := []def.ValueType{def.Int64, def.Double, def.Bool, def.String, def.Timestamp}
	for it := 0; it < 2000; it++ {
		typ := types[r.IntN(len(types))]
		e := randExpect(r, typ)
		if e.IsZero() {
			continue
		}
		c, err := NewExpectations("v", []def.Field{{Name: "f", Type: typ}}, []*def.Expectation{e}, func(int) string { return "features[0]" })
		if err != nil {
			t.Fatal(err)
		}
		tally := c.NewTally()
		if it%2 == 1 {
			tally.Add(0, randColumn(r, typ, 70, 0.3), 0)
			tally.Reset()
		}
		var cols []*Column
		var base int64
		for range 1 + r.IntN(4) {
			nullP := []float64{0, 0.1, 0.6, 1}[r.IntN(4)]
			col := randColumn(r, typ, r.IntN(300), nullP)
			cols = append(cols, col)
			tally.Add(0, col, base)
			base += int64(col.Len)
		}
		got, want := tally.Violations(), refViolations(c.Gates[0], cols)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("iteration %d, %s %+v:\n got %+v\nwant %+v", it, typ, *e, got, want)
		}
	}
}

func TestExpectationRuleSemantics(t *testing.T) {
	col := func(t def.ValueType, vals ...any) *Column {
		c := &Column{}
		c.ResetBitmap(t, len(vals), false)
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				c.Valid.Clear(i)
			case int:
				c.I64[i] = int64(x)
			case float64:
				c.F64[i] = x
			case string:
				c.S[i] = x
			case bool:
				c.B[i] = x
			}
		}
		return c
	}
	for _, tc := range []struct {
		name string
		typ  def.ValueType
		e    def.Expectation
		col  *Column
		want []string
	}{
		{"max inclusive", def.Double, def.Expectation{Max: f64(200)}, col(def.Double, 200.0, 250.0, nil, 201.0, 300.0),
			[]string{`view "trips": fare: 300 is above max 200 (3 of 5 rows; first rows 1, 3, 4)`}},
		{"min on ints rounds the bound up", def.Int64, def.Expectation{Min: f64(0.5)}, col(def.Int64, 1, 0, -3, nil),
			[]string{`view "trips": fare: -3 is below min 0.5 (2 of 4 rows; first rows 1, 2)`}},
		{"NaN is only not_nan", def.Double, def.Expectation{Min: f64(0), Max: f64(1), NotNaN: true}, col(def.Double, math.NaN(), 0.5),
			[]string{`view "trips": fare: NaN where not_nan is set (1 of 2 rows; first rows 0)`}},
		{"allowed strings", def.String, def.Expectation{AllowedValues: []string{"card", "cash"}}, col(def.String, "card", "crypto", nil, "barter"),
			[]string{`view "trips": fare: "crypto" is not in allowed_values [card cash] (2 of 4 rows; first rows 1, 3)`}},
		{"null fraction strict", def.Int64, def.Expectation{MaxNullFraction: f64(0.5)}, col(def.Int64, nil, 1, nil, 2), nil},
		{"null fraction broken", def.Int64, def.Expectation{MaxNullFraction: f64(0.25)}, col(def.Int64, nil, 1, nil, 2),
			[]string{`view "trips": fare: null fraction 0.5 (2 of 4 rows) is above max_null_fraction 0.25`}},
		{"distinct", def.String, def.Expectation{MaxDistinct: 2}, col(def.String, "a", "b", "a", nil, "c"),
			[]string{`view "trips": fare: more than 2 distinct values is above max_distinct 2`}},
		{"distinct within", def.Bool, def.Expectation{MaxDistinct: 2, AllowedValues: []string{"true", "false"}}, col(def.Bool, true, false, true), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewExpectations("trips", []def.Field{{Name: "fare", Type: tc.typ}}, []*def.Expectation{&tc.e}, func(int) string { return "features[0]" })
			if err != nil {
				t.Fatal(err)
			}
			tally := c.NewTally()
			tally.Add(0, tc.col, 0)
			var got []string
			for _, v := range tally.Violations() {
				got = append(got, v.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestAggregationExpectationTypeFit: an aggregation's output type is known
// only once compiled, so a gate that does not fit it fails the plan with
// the field and the type.
func TestAggregationExpectationTypeFit(t *testing.T) {
	ix := def.NewIndex(&def.Definitions{
		Entities: []*def.Entity{{Name: "driver", JoinKeys: []def.Field{{Name: "driver_id", Type: def.Int64}}}},
		Sources:  []*def.Source{{Name: "trips", Kind: def.SourceParquet, Path: "x.parquet", TimestampColumn: "ts"}},
	})
	src := []def.Field{{Name: "driver_id", Type: def.Int64}, {Name: "ts", Type: def.Timestamp}, {Name: "fare", Type: def.Double}, {Name: "pay", Type: def.String}}
	for _, tc := range []struct {
		agg  def.Aggregation
		want string
	}{
		{def.Aggregation{Name: "fare_mean", Func: def.Mean, Expr: "fare", Window: time.Hour, Hop: time.Hour, Expect: &def.Expectation{AllowedValues: []string{"1"}}},
			`trips_v: aggregations[0].expect.allowed_values: compute: invalid plan: allowed_values apply to STRING, INT64 and BOOL values, output "fare_mean" is DOUBLE`},
		{def.Aggregation{Name: "n", Func: def.Count, Window: time.Hour, Hop: time.Hour, Expect: &def.Expectation{NotNaN: true}},
			`trips_v: aggregations[0].expect.not_nan: compute: invalid plan: not_nan applies to DOUBLE values, output "n" is INT64`},
		{def.Aggregation{Name: "last_pay", Func: def.Last, Expr: "pay", Window: time.Hour, Hop: time.Hour, Expect: &def.Expectation{Max: f64(3)}},
			`trips_v: aggregations[0].expect.min: compute: invalid plan: min and max apply to INT64, DOUBLE and TIMESTAMP values, output "last_pay" is STRING`},
		{def.Aggregation{Name: "n", Func: def.Count, Window: time.Hour, Hop: time.Hour, Expect: &def.Expectation{AllowedValues: []string{"x"}}},
			`trips_v: aggregations[0].expect.allowed_values[0]: compute: invalid plan: "x" is not a valid INT64 value (output "n"): want a decimal integer`},
	} {
		v := &def.FeatureView{Name: "trips_v", Entities: []string{"driver"}, Source: "trips", Aggregations: []def.Aggregation{tc.agg}}
		_, err := CompileView(ix, v, src)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.agg.Name, err, tc.want)
		}
	}
	v := &def.FeatureView{Name: "trips_v", Entities: []string{"driver"}, Source: "trips", MaxFreshnessLag: time.Minute,
		Features:     []def.Feature{{Name: "fare", Type: def.Double, Expect: &def.Expectation{Max: f64(200)}}},
		Aggregations: []def.Aggregation{{Name: "fare_max", Func: def.Max, Expr: "fare", Window: time.Hour, Hop: time.Hour, Expect: &def.Expectation{Max: f64(200)}}, {Name: "fare_sum", Func: def.Sum, Expr: "fare", Window: time.Hour, Hop: time.Hour, Expect: &def.Expectation{Max: f64(200)}}}}
	p, err := CompileView(ix, v, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Expect.Gates) != 3 || p.Expect.MaxFreshnessLag != time.Minute.Microseconds() {
		t.Fatalf("gates %d, lag %d", len(p.Expect.Gates), p.Expect.MaxFreshnessLag)
	}
	if p.InputGate(0) == nil || p.InputGate(1) != nil {
		t.Fatalf("input gates: MAX %v, SUM %v; want MAX only", p.InputGate(0), p.InputGate(1))
	}
	if viol, bad := p.Expect.Freshness(0, time.Minute.Microseconds()+1); !bad || !strings.Contains(viol.Describe(), "lags by 1m0.000001s, more than max_freshness_lag 1m0s") {
		t.Fatalf("freshness: %v %q", bad, viol.Describe())
	}
	if _, bad := p.Expect.Freshness(0, time.Minute.Microseconds()); bad {
		t.Fatal("a lag of exactly max_freshness_lag broke the gate")
	}
}

func benchColumn(typ def.ValueType, n int) *Column {
	return randColumn(rand.New(rand.NewPCG(1, 2)), typ, n, 0.05)
}

// BenchmarkTally measures the columnar checks per row.
//
//	go test ./compute -run '^$' -bench Tally -count 6 | benchstat -
func BenchmarkTally(b *testing.B) {
	for _, tc := range []struct {
		name string
		typ  def.ValueType
		e    def.Expectation
	}{
		{"rule=minmax/type=double", def.Double, def.Expectation{Min: f64(-1e9), Max: f64(1e9), NotNaN: false}},
		{"rule=minmax/type=int64", def.Int64, def.Expectation{Min: f64(-1e9), Max: f64(1e9)}},
		{"rule=allowed/type=string", def.String, def.Expectation{AllowedValues: []string{"a", "b", "c", "d", "e", "f", "g", "h"}}},
		{"rule=nullfrac/type=double", def.Double, def.Expectation{MaxNullFraction: f64(0.5)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := NewExpectations("v", []def.Field{{Name: "f", Type: tc.typ}}, []*def.Expectation{&tc.e}, func(int) string { return "f" })
			if err != nil {
				b.Fatal(err)
			}
			col := benchColumn(tc.typ, 8192)
			tally := c.NewTally()
			b.ReportAllocs()
			b.SetBytes(8 * 8192)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tally.Reset()
				tally.Add(0, col, 0)
			}
			b.ReportMetric(float64(b.N)*8192/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
