package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/fstore/fstore/featurestore/def"
)

// parseClock reads "h:mm[:ss]" (optionally "-" for before the epoch, or a
// "d+" day prefix) as microseconds since the epoch.
func parseClock(t *testing.T, s string) int64 {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var days int64
	if d, rest, ok := strings.Cut(s, "d+"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			t.Fatalf("bad day in %q", s)
		}
		days, s = n, rest
	}
	parts := strings.Split(s, ":")
	var secs int64
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			t.Fatalf("bad time %q", s)
		}
		secs = secs*60 + n
	}
	for i := len(parts); i < 3; i++ {
		secs *= 60
	}
	us := (days*86400 + secs) * 1_000_000
	if neg {
		us = -us
	}
	return us
}

func formatClock(us int64) string {
	neg := us < 0
	if neg {
		us = -us
	}
	s := us / 1_000_000
	out := fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	if neg {
		out = "-" + out
	}
	return out
}

type windowCase struct {
	agg     *Agg
	ts      []int64
	created []int64
	vals    *Column
}

func formatResult(g *Agg, acc Acc) string {
	out := &Column{}
	out.reset(g.Out, 1)
	v := make(Bitmap, 1)
	v.Set(0)
	g.Result(&acc, out, 0, v)
	if !v.Get(0) {
		return "null"
	}
	switch x := out.Value(0).(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', 10, 64)
	default:
		return fmt.Sprint(x)
	}
}

// TestWindowDataDriven runs testdata/windows. Every query is answered twice,
// offline (Cursor over sorted events) and online (tiles built event by
// event in a shuffled order from the events at or before the query time),
// and the test fails unless both agree; the file shows the value once.
func TestWindowDataDriven(t *testing.T) {
	var wc *windowCase
	datadriven.RunTest(t, "testdata/windows", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "agg":
			var fn, typ, window, hop string
			d.ScanArgs(t, "function", &fn)
			d.ScanArgs(t, "window", &window)
			d.ScanArgs(t, "hop", &hop)
			typ = "DOUBLE"
			if d.HasArg("type") {
				d.ScanArgs(t, "type", &typ)
			}
			w, err1 := time.ParseDuration(window)
			h, err2 := time.ParseDuration(hop)
			if err1 != nil || err2 != nil {
				t.Fatalf("bad durations %q %q", window, hop)
			}
			f := map[string]def.AggFunc{"COUNT": def.Count, "SUM": def.Sum, "MEAN": def.Mean, "MIN": def.Min, "MAX": def.Max, "LAST": def.Last, "STDDEV": def.Stddev}[fn]
			vt := map[string]def.ValueType{"DOUBLE": def.Double, "INT64": def.Int64, "STRING": def.String}[typ]
			schema, _ := NewSchema([]def.Field{{Name: "v", Type: vt}})
			expr := "v"
			if d.HasArg("events-only") {
				expr = ""
			}
			g, err := NewAgg(def.Aggregation{Name: "a", Func: f, Expr: expr, Window: w, Hop: h}, schema)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			wc = &windowCase{agg: g}
			return fmt.Sprintf("%s over %s in %s tiles → %s\n", fn, def.FormatDuration(w), def.FormatDuration(h), g.Out)
		case "events":
			// Lines: "time value [created]"; the test sorts them as the
			// offline path requires, keeping file order for ties.
			type ev struct {
				ts, created int64
				val         string
				seq         int
			}
			var evs []ev
			for i, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
				f := strings.Fields(line)
				e := ev{ts: parseClock(t, f[0]), val: f[1], seq: i}
				if len(f) > 2 {
					e.created = parseClock(t, f[2])
				}
				evs = append(evs, e)
			}
			sort.SliceStable(evs, func(i, j int) bool {
				if evs[i].ts != evs[j].ts {
					return evs[i].ts < evs[j].ts
				}
				return evs[i].created < evs[j].created
			})
			n := len(evs)
			col := &Column{}
			col.reset(wc.agg.In, n)
			if wc.agg.Expr == nil {
				col = nil
			} else {
				col.allValid(new(Bitmap), n)
			}
			wc.ts, wc.created = make([]int64, n), make([]int64, n)
			for i, e := range evs {
				wc.ts[i], wc.created[i] = e.ts, e.created
				if col == nil {
					continue
				}
				if e.val == "null" {
					col.Valid.Clear(i)
					continue
				}
				switch col.Type {
				case def.Double:
					col.F64[i], _ = strconv.ParseFloat(e.val, 64)
				case def.Int64:
					col.I64[i], _ = strconv.ParseInt(e.val, 10, 64)
				case def.String:
					col.S[i] = e.val
				}
			}
			wc.vals = col
			return fmt.Sprintf("%d events\n", n)
		case "query":
			g := wc.agg
			cur := g.NewCursor()
			cur.Reset(wc.ts, wc.created, wc.vals, 0)
			var b strings.Builder
			r := rand.New(rand.NewPCG(3, 3))
			for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
				tq := parseClock(t, strings.TrimSpace(line))
				offline := formatResult(g, cur.At(tq))
				// Online: the events at or before tq, added in random order.
				var idx []int
				for i, ts := range wc.ts {
					if ts <= tq {
						idx = append(idx, i)
					}
				}
				r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
				var tiles Tiles
				for _, i := range idx {
					tiles = g.AddEvent(tiles, wc.vals, i, wc.ts[i], wc.created[i])
				}
				online := formatResult(g, g.Eval(g.Prune(tiles, tq), tq))
				if online != offline {
					t.Fatalf("at %s: offline %s, online %s", line, offline, online)
				}
				fmt.Fprintf(&b, "%s → %s\n", formatClock(tq), offline)
			}
			return b.String()
		}
		t.Fatalf("unknown command %s", d.Cmd)
		return ""
	})
}

// naiveWindow is the definition, evaluated directly: the indexes of the
// events in the window ending at t, found by scanning every event.
func naiveWindow(g *Agg, ts []int64, t int64) []int {
	kt := floorDiv(t, g.Hop)
	var in []int
	for i := range ts {
		if ts[i] <= t && floorDiv(ts[i], g.Hop) > kt-g.Window/g.Hop {
			in = append(in, i)
		}
	}
	return in
}

// TestWindowAgainstNaive compares the tile path with a direct scan of the
// definition on random events (integer-valued, so float sums are exact in
// any order) and random query times, for every function.
func TestWindowAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 5))
	funcs := []def.AggFunc{def.Count, def.Sum, def.Mean, def.Min, def.Max, def.Last, def.Stddev}
	for it := 0; it < 400; it++ {
		hop := time.Duration(1+r.IntN(10)) * time.Minute
		window := hop * time.Duration(1+r.IntN(6))
		f := funcs[r.IntN(len(funcs))]
		schema, _ := NewSchema([]def.Field{{Name: "v", Type: def.Int64}})
		g, err := NewAgg(def.Aggregation{Name: "a", Func: f, Expr: "v", Window: window, Hop: hop}, schema)
		if err != nil {
			t.Fatal(err)
		}
		n := r.IntN(60)
		ts := make([]int64, n)
		for i := range ts {
			ts[i] = (r.Int64N(240) - 60) * int64(time.Minute/time.Microsecond) / 2 // around and before the epoch
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		created := make([]int64, n)
		vals := &Column{}
		vals.reset(def.Int64, n)
		vals.allValid(new(Bitmap), n)
		for i := range ts {
			created[i] = r.Int64N(3)
			vals.I64[i] = r.Int64N(21) - 10
			if r.IntN(8) == 0 {
				vals.Valid.Clear(i)
			}
		}
		// Sort ties by created, as the offline path requires.
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			if ts[idx[a]] != ts[idx[b]] {
				return ts[idx[a]] < ts[idx[b]]
			}
			return created[idx[a]] < created[idx[b]]
		})
		ts2, cr2 := make([]int64, n), make([]int64, n)
		v2 := &Column{}
		v2.reset(def.Int64, n)
		v2.allValid(new(Bitmap), n)
		for i, j := range idx {
			ts2[i], cr2[i], v2.I64[i] = ts[j], created[j], vals.I64[j]
			if vals.Null(j) {
				v2.Valid.Clear(i)
			}
		}
		cur := g.NewCursor()
		cur.Reset(ts2, cr2, v2, 0)
		tq := int64(-90) * int64(time.Minute/time.Microsecond)
		for q := 0; q < 30; q++ {
			tq += r.Int64N(15) * int64(time.Minute/time.Microsecond)
			got := formatResult(g, cur.At(tq))
			in := naiveWindow(g, ts2, tq)
			want := naiveResult(f, in, ts2, cr2, v2)
			if got != want {
				t.Fatalf("%s window %s hop %s at %s: tiles %s, naive %s (events in window: %v)", f, window, hop, formatClock(tq), got, want, in)
			}
		}
	}
}

// naiveResult computes f over the events in, in order, straight from its
// definition.
func naiveResult(f def.AggFunc, in []int, ts, created []int64, vals *Column) string {
	var xs []float64
	lastI := -1
	for _, i := range in {
		if vals.Null(i) {
			continue
		}
		xs = append(xs, float64(vals.I64[i]))
		if lastI < 0 || ts[i] > ts[lastI] || (ts[i] == ts[lastI] && created[i] >= created[lastI]) {
			lastI = i
		}
	}
	if f == def.Count {
		return strconv.Itoa(len(xs))
	}
	if len(xs) == 0 {
		return "null"
	}
	switch f {
	case def.Sum:
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return strconv.FormatInt(int64(s), 10)
	case def.Mean:
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return strconv.FormatFloat(s/float64(len(xs)), 'g', 10, 64)
	case def.Min, def.Max:
		m := xs[0]
		for _, x := range xs {
			if (f == def.Min && x < m) || (f == def.Max && x > m) {
				m = x
			}
		}
		return strconv.FormatInt(int64(m), 10)
	case def.Last:
		return strconv.FormatInt(vals.I64[lastI], 10)
	case def.Stddev:
		mean := 0.0
		for _, x := range xs {
			mean += x
		}
		mean /= float64(len(xs))
		ss := 0.0
		for _, x := range xs {
			ss += (x - mean) * (x - mean)
		}
		return strconv.FormatFloat(math.Sqrt(ss/float64(len(xs))), 'g', 10, 64)
	}
	return "?"
}
