package compute

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fstore/fstore/featurestore/def"
)

func testSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := NewSchema([]def.Field{
		{Name: "driver_name", Type: def.String},
		{Name: "conv_rate", Type: def.Double},
		{Name: "acc_rate", Type: def.Double},
		{Name: "trips", Type: def.Int64},
		{Name: "completed", Type: def.Bool},
		{Name: "event_ts", Type: def.Timestamp},
		{Name: "driver_hourly.conv_rate", Type: def.Double},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompileErrorsPointAtTheProblem(t *testing.T) {
	s := testSchema(t)
	for _, tc := range []struct{ src, want string }{
		{"log(driver_nam)", `column 5 of "log(driver_nam)": unknown column "driver_nam" (did you mean "driver_name"?)`},
		{"conv_rat * 2", `column 1 of "conv_rat * 2": unknown column "conv_rat" (did you mean "conv_rate"?)`},
		{"log(driver_name)", `column 5 of "log(driver_name)": log: argument 1 is STRING, want INT64 or DOUBLE`},
		{"trips + driver_name", `column 7 of "trips + driver_name": operator + does not apply to INT64 and STRING`},
		{"trips % 2.0", `column 7 of "trips % 2.0": operator % needs INT64 operands, not INT64 and DOUBLE`},
		{"lgo(trips)", `column 1 of "lgo(trips)": unknown function "lgo" (did you mean "log"?)`},
		{"if(trips, 1, 2)", `column 4 of "if(trips, 1, 2)": if: argument 1 is INT64, want BOOL`},
		{"if(completed, 1, \"x\")", `column 18 of "if(completed, 1, \"x\")": if: argument 3 is STRING, which does not mix with INT64`},
		{"bucketize(conv_rate, 1, 0.5)", `column 25 of "bucketize(conv_rate, 1, 0.5)": bucketize: boundaries must ascend strictly: 0.5 follows 1`},
		{"bucketize(conv_rate, trips)", `column 22 of "bucketize(conv_rate, trips)": bucketize: argument 2 must be a numeric constant`},
		{"hash_bucket(driver_name, 0)", `column 26 of "hash_bucket(driver_name, 0)": hash_bucket: the bucket count must be a positive INT64 constant`},
		{"min(trips)", `column 1 of "min(trips)": min: takes at least 2 arguments, got 1`},
		{"pow(2)", `column 1 of "pow(2)": pow: takes 2 argument(s), got 1`},
		{"trips +", `column 8 of "trips +": syntax error: expected operand, found 'EOF'`},
		{"trips[0]", `column 1 of "trips[0]": indexing is not supported in feature expressions`},
		{"trips & 1", `column 7 of "trips & 1": operator & is not supported`},
		{"'c'", `column 1 of "'c'": character literals are not supported: use a string ("x")`},
		{"99999999999999999999", `column 1 of "99999999999999999999": integer literal 99999999999999999999 does not fit in int64`},
		{"1e400", `column 1 of "1e400": float literal 1e400 is out of range`},
		{"a.b.c", `column 1 of "a.b.c": only view.feature selectors are supported`},
		{"", `column 1 of "": empty expression`},
		{"completed < true", `column 11 of "completed < true": operator < does not apply to BOOL and BOOL`},
		{"if (completed) { 1 }", `column 16 of "if (completed) { 1 }": syntax error: expected 'EOF', found '{'`},
	} {
		_, err := Compile(tc.src, s)
		if err == nil {
			t.Errorf("%q compiled", tc.src)
			continue
		}
		if !errors.Is(err, ErrExpr) {
			t.Errorf("%q: error %T does not match ErrExpr", tc.src, err)
		}
		if err.Error() != tc.want {
			t.Errorf("%q:\n got: %s\nwant: %s", tc.src, err, tc.want)
		}
	}
}

func TestCompileResultTypesAndColumns(t *testing.T) {
	s := testSchema(t)
	for _, tc := range []struct {
		src  string
		typ  def.ValueType
		cols []int
	}{
		{"conv_rate", def.Double, []int{1}},
		{"acc_rate * 100", def.Double, []int{2}},
		{"trips * 100", def.Int64, []int{3}},
		{"trips / 2.0", def.Double, []int{3}},
		{"if(completed, 0.0, 1.0)", def.Double, []int{4}},
		{"if(completed, 0, 1.5)", def.Double, []int{4}},
		{"driver_name == \"business\"", def.Bool, []int{0}},
		{"coalesce(driver_hourly.conv_rate, 0.0) * 2", def.Double, []int{6}},
		{"hour(event_ts)", def.Int64, []int{5}},
		{"event_ts - event_ts", def.Int64, []int{5}},
		{"event_ts + 1000000", def.Timestamp, []int{5}},
		{"(2.5 + 1.2 * 3) * 2", def.Double, nil},
		{"string(trips) + \"x\"", def.String, []int{3}},
	} {
		e, err := Compile(tc.src, s)
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if e.Type != tc.typ || !equalInts(e.Columns, tc.cols) {
			t.Errorf("%q: type %s columns %v, want %s %v", tc.src, e.Type, e.Columns, tc.typ, tc.cols)
		}
	}
	// Constants fold to one node.
	e, _ := Compile("(2.5 + 1.2 * 3) * 2", s)
	if e.root.op != opConst || e.root.val.f != (2.5+1.2*3)*2 {
		t.Errorf("constant not folded: %+v", e.root)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHashBucketIsStable pins hash_bucket's values: they are part of every
// trained model that uses them, so they may never change.
func TestHashBucketIsStable(t *testing.T) {
	for s, want := range map[string]uint64{
		"":         0xcbf29ce484222325,
		"a":        0xaf63dc4c8601ec8c,
		"business": 0x2657f4cc0d89eb6b, // computed independently (Python)
		"Ünïcode":  0x2b3811cdd503dfcb,
	} {
		if got := HashString(s); got != want {
			t.Errorf("HashString(%q) = %#x, want %#x", s, got, want)
		}
	}
}

func TestEdgeSemantics(t *testing.T) {
	s := testSchema(t)
	row := func(src string) any {
		t.Helper()
		e, err := Compile(src, s)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		b := oneRowBatch(s)
		return e.NewEvaluator().Eval(b).Value(0)
	}
	nan := row("log(-1.0)").(float64)
	for src, want := range map[string]any{
		"trips / 0":                           nil, // integer division by zero is null
		"trips % 0":                           nil,
		"int(0.0/0.0)":                        nil, // NaN does not convert
		"int(1e19)":                           nil,
		"int(-2.7)":                           int64(-2),
		"1.0 / 0.0":                           math.Inf(1),
		"9223372036854775807 + 1":             int64(math.MinInt64), // wraps
		"abs(-9223372036854775807 - 1)":       int64(math.MinInt64),
		"round(-2.5)":                         -3.0,
		"bucketize(conv_rate, 0.1, 0.5, 0.9)": int64(2), // conv_rate = 0.5
		"bucketize(0.0/0.0, 1)":               nil,
		"hour(event_ts)":                      int64(13),
		"day_of_week(event_ts)":               int64(5), // 2026-01-09 is a Friday
		"day_of_month(event_ts)":              int64(9),
		"string(event_ts)":                    "2026-01-09T13:45:00.000001Z",
		"int(\" 42 \")":                       int64(42),
		"int(\"x\")":                          nil,
		"bool(\"TRUE\")":                      true,
		"len(\"Ünï\")":                        int64(3),
		"completed && is_null(int(\"x\"))":    true,
		"false && int(\"x\") > 0":             false, // false dominates a null
		"true || int(\"x\") > 0":              true,
		"true && int(\"x\") > 0":              nil,
		"if(int(\"x\") > 0, 1, 2)":            int64(2), // a null condition takes the else branch
		"coalesce(int(\"x\"), trips)":         int64(12),
		"min(1, 2.5)":                         1.0,
		"max(\"a\", \"b\", driver_name)":      "zed",
		"clip(trips, 20, 10)":                 int64(10),
		"timestamp(\"2026-01-09T13:45:00Z\")": Timestamp(1767966300000000),
		"string(0.1 + 0.2)":                   "0.30000000000000004",
		"hash_bucket(driver_name, 10)":        int64(HashString("zed") % 10),
		"contains(driver_name, \"\")":         true,
	} {
		if got := row(src); got != want {
			t.Errorf("%s = %#v, want %#v", src, got, want)
		}
	}
	if !math.IsNaN(nan) {
		t.Errorf("log(-1) = %v, want NaN", nan)
	}
}

func oneRowBatch(s *Schema) *Batch {
	vals := map[string]any{
		"driver_name": "zed", "conv_rate": 0.5, "acc_rate": 0.9, "trips": int64(12), "completed": true,
		"event_ts": int64(1767966300000001), "driver_hourly.conv_rate": 0.25,
	}
	b := &Batch{Len: 1}
	for _, f := range s.Fields {
		c := &Column{Type: f.Type, Len: 1}
		switch v := vals[f.Name].(type) {
		case string:
			c.S = []string{v}
		case float64:
			c.F64 = []float64{v}
		case int64:
			c.I64 = []int64{v}
		case bool:
			c.B = []bool{v}
		}
		b.Cols = append(b.Cols, c)
	}
	return b
}

// FuzzCompile: no string may panic the compiler, and whatever compiles must
// evaluate without panicking on random data, at its declared type.
//
//	go test ./compute -run '^$' -fuzz FuzzCompile -fuzztime 60s
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"log(driver_nam)", "acc_rate * 100", "if(completed, 0.0, 1.0)", "bucketize(conv_rate, -1, 0, 2*3)",
		"hash_bucket(lower(driver_name), 1000)", "coalesce(driver_hourly.conv_rate, 0.0) * 2",
		"trips / 0", "((((trips))))", "if(if(completed, true, false), \"a\", \"b\")", "day_of_week(event_ts) == 7",
		"-9223372036854775807 - 1", "\"\\xff\" + driver_name", "int(string(1e300))", "a.b", "f(x)(y)", "if(",
	} {
		f.Add(s)
	}
	s := testSchema(f)
	r := rand.New(rand.NewPCG(1, 2))
	fields := s.Fields
	cols := make([][]rv, len(fields))
	for i, fd := range fields {
		cols[i] = make([]rv, 64)
		for row := range cols[i] {
			if r.IntN(5) == 0 {
				cols[i][row] = null
			} else {
				cols[i][row] = randomValue(r, fd.Type)
			}
		}
	}
	batch := toBatch(fields, cols, 64)
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src, s)
		if err != nil {
			if !errors.Is(err, ErrExpr) {
				t.Fatalf("%q: error %T does not match ErrExpr", src, err)
			}
			if strings.Contains(err.Error(), "iF") && !strings.Contains(src, "iF") {
				t.Fatalf("%q: error leaks the if rewrite: %v", src, err)
			}
			return
		}
		out := e.NewEvaluator().Eval(batch)
		if out.Type != e.Type || out.Len != batch.Len {
			t.Fatalf("%q: result %s×%d, want %s×%d", src, out.Type, out.Len, e.Type, batch.Len)
		}
	})
}
