package compute

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/fstore/fstore/featurestore/def"
)

// Benchmarks of the expression kernels against hand-written Go loops over
// the same slices (the bar: within 2x).
//
//	go test ./compute -run '^$' -bench 'Expr|HandLoop' -count 10 > new.txt
//	benchstat old.txt new.txt

const benchRows = 64 << 10

func floatBatch(n int, cols ...string) (*Schema, *Batch) {
	r := rand.New(rand.NewPCG(1, 1))
	var fields []def.Field
	b := &Batch{Len: n}
	for _, c := range cols {
		fields = append(fields, def.Field{Name: c, Type: def.Double})
		v := make([]float64, n)
		for i := range v {
			v[i] = r.Float64()
		}
		b.Cols = append(b.Cols, &Column{Type: def.Double, Len: n, F64: v})
	}
	s, _ := NewSchema(fields)
	return s, b
}

func benchExpr(b *testing.B, src string, cols ...string) {
	s, batch := floatBatch(benchRows, cols...)
	e, err := Compile(src, s)
	if err != nil {
		b.Fatal(err)
	}
	ev := e.NewEvaluator()
	ev.Eval(batch)
	b.ReportAllocs()
	b.SetBytes(int64(8 * benchRows * len(cols)))
	for b.Loop() {
		ev.Eval(batch)
	}
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkExpr(b *testing.B) {
	b.Run("expr=a*100", func(b *testing.B) { benchExpr(b, "a * 100", "a") })
	b.Run("expr=a+b", func(b *testing.B) { benchExpr(b, "a + b", "a", "b") })
	b.Run("expr=(a+b)*c-1", func(b *testing.B) { benchExpr(b, "(a + b) * c - 1", "a", "b", "c") })
	b.Run("expr=if(a>b,a,b)", func(b *testing.B) { benchExpr(b, "if(a > b, a, b)", "a", "b") })
	b.Run("expr=log1p(a)", func(b *testing.B) { benchExpr(b, "log1p(a)", "a") })
}

var sink []float64

// The hand-written loops are plain functions over local slices with bounds
// checks hoisted, the best a Go programmer would write.
func handMul100(out, a []float64) {
	a = a[:len(out)]
	for i := range out {
		out[i] = a[i] * 100
	}
}

func handAdd(out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] + b[i]
	}
}

func handAddMulSub(out, a, b, c []float64) {
	a, b, c = a[:len(out)], b[:len(out)], c[:len(out)]
	for i := range out {
		out[i] = (a[i]+b[i])*c[i] - 1
	}
}

// BenchmarkHandLoop is the bar BenchmarkExpr is held to: the same
// arithmetic written directly in Go over the same slices.
func BenchmarkHandLoop(b *testing.B) {
	_, batch := floatBatch(benchRows, "a", "b", "c")
	a, bb, c := batch.Cols[0].F64, batch.Cols[1].F64, batch.Cols[2].F64
	// Offset the output from the page-aligned inputs: at equal offsets
	// modulo 4 KiB every load falsely waits on the store before it (4K
	// aliasing), which would make the bar look lower than it is.
	out := make([]float64, benchRows+40)[40:]
	run := func(name string, cols int, f func()) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(8 * benchRows * cols))
			for b.Loop() {
				f()
			}
			b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
			sink = out
		})
	}
	run("expr=a*100", 1, func() { handMul100(out, a) })
	run("expr=a+b", 2, func() { handAdd(out, a, bb) })
	run("expr=(a+b)*c-1", 3, func() { handAddMulSub(out, a, bb, c) })
}

// BenchmarkOneRow is the online shape: 50 feature expressions over a
// single row. It must not allocate.
func BenchmarkOneRow(b *testing.B) {
	cols := make([]string, 10)
	for i := range cols {
		cols[i] = "c" + strconv.Itoa(i)
	}
	s, batch := floatBatch(1, cols...)
	var evs []*Evaluator
	for i := 0; i < 50; i++ {
		src := []string{"c0 * 100", "c1 + c2", "log1p(c3)", "if(c4 > 0.5, c5, c6)", "clip(c7, 0.1, 0.9)"}[i%5]
		e, err := Compile(src, s)
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, e.NewEvaluator())
	}
	for _, ev := range evs {
		ev.Eval(batch)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, ev := range evs {
			ev.Eval(batch)
		}
	}
}

// BenchmarkWindow aggregates sorted events through the offline cursor (the
// same tile code as online), querying the window every 64 events.
func BenchmarkWindow(b *testing.B) {
	const n = 1 << 20
	r := rand.New(rand.NewPCG(2, 2))
	ts := make([]int64, n)
	t := int64(0)
	for i := range ts {
		t += r.Int64N(2_000_000) // an event every second on average
		ts[i] = t
	}
	for _, fn := range []def.AggFunc{def.Count, def.Sum, def.Mean, def.Max, def.Last, def.Stddev} {
		b.Run("func="+fn.String(), func(b *testing.B) {
			schema, batch := floatBatch(n, "v")
			g, err := NewAgg(def.Aggregation{Name: "a", Func: fn, Expr: "v", Window: time.Hour, Hop: 5 * time.Minute}, schema)
			if err != nil {
				b.Fatal(err)
			}
			vals := g.Expr.NewEvaluator().Eval(batch)
			cur := g.NewCursor()
			b.ReportAllocs()
			for b.Loop() {
				cur.Reset(ts, nil, vals, 0)
				for i := 63; i < n; i += 64 {
					cur.At(ts[i])
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "events/s")
		})
	}
}
