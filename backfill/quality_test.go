package backfill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/skewcheck/profile"
)

var gateT0 = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

const gateDefs = `
entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "src" parquet { path: "src.parquet" } timestamp_column: "ts" }
feature_views { name: "v" entities: "e" source: "src"
  features { name: "x" type: DOUBLE expect { max: 1 min: 0.1 } }
  features { name: "s" type: STRING expect { allowed_values: "a" allowed_values: "b" max_null_fraction: 0.25 } }
  features { name: "n" type: INT64 expect { max_distinct: 1000 } }
}
feature_views { name: "free" entities: "e" source: "src"
  features { name: "x" type: DOUBLE }
}
`

type gateSrcRow struct {
	K  int64    `parquet:"k"`
	TS int64    `parquet:"ts,timestamp(microsecond)"`
	X  *float64 `parquet:"x,optional"`
	S  *string  `parquet:"s,optional"`
	N  int64    `parquet:"n"`
}

type gateSpineRow struct {
	K  int64 `parquet:"k"`
	TS int64 `parquet:"event_timestamp,timestamp(microsecond)"`
}

// gateFixture writes the definitions, a source of keys 0..99 (x = k/50,
// so x breaks max 1 from k 51 and min 0.1 below k 5; s is "a", "b" or
// "c" by k%3, null for k%11 == 0) and a spine of rows spine rows over keys
// 0..119 (100..119 not found), in row groups of 50.
func gateFixture(t testing.TB, rows int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "defs.textproto"), []byte(gateDefs), 0o644); err != nil {
		t.Fatal(err)
	}
	var src []gateSrcRow
	for k := range 100 {
		r := gateSrcRow{K: int64(k), TS: gateT0.UnixMicro(), N: int64(k)}
		x := float64(k) / 50
		r.X = &x
		if k%11 != 0 {
			s := []string{"a", "b", "c"}[k%3]
			r.S = &s
		}
		src = append(src, r)
	}
	if err := parquet.WriteFile(filepath.Join(dir, "src.parquet"), src); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	spine := make([]gateSpineRow, rows)
	for i := range spine {
		spine[i] = gateSpineRow{K: int64(rng.IntN(120)), TS: gateT0.Add(time.Hour).UnixMicro()}
	}
	if err := parquet.WriteFile(filepath.Join(dir, "spine.parquet"), spine, parquet.MaxRowsPerRowGroup(50)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// refGates computes, from a training set's rows, what the gates of view v
// must report: a hand-written reference of the rules, per 50-row chunk
// for the batch rule.
func refGates(names []string, rows [][]any) (results []profile.ExpectationResult, firstChunk string) {
	col := map[string]int{}
	for i, n := range names {
		col[n] = i
	}
	type acc struct {
		res   profile.ExpectationResult
		worst float64
		set   bool
	}
	var order []string
	accs := map[string]*acc{}
	get := func(feature, rule, limit string) *acc {
		key := feature + " " + rule
		if accs[key] == nil {
			accs[key] = &acc{res: profile.ExpectationResult{Feature: feature, Rule: rule, Limit: limit}}
			order = append(order, key)
		}
		return accs[key]
	}
	addRow := func(a *acc, row int) {
		a.res.Violations++
		if len(a.res.FirstRows) < 5 {
			a.res.FirstRows = append(a.res.FirstRows, int64(row))
		}
	}
	var chunkMsgs []string
	for lo := 0; lo < len(rows); lo += 50 {
		hi := min(lo+50, len(rows))
		type rowv struct {
			count int
			first []string
			worst float64
			obs   string
		}
		var min_, max_, allowed rowv
		nulls := 0
		for i := lo; i < hi; i++ {
			if x, ok := rows[i][col["v__x"]].(float64); ok {
				if x > 1 {
					a := get("v__x", "max", "1")
					addRow(a, i)
					if !a.set || x > a.worst {
						a.worst, a.set = x, true
					}
					if max_.count == 0 || x > max_.worst {
						max_.worst = x
					}
					max_.count++
					if len(max_.first) < 5 {
						max_.first = append(max_.first, strconv.Itoa(i))
					}
				} else if x < 0.1 {
					a := get("v__x", "min", "0.1")
					addRow(a, i)
					if !a.set || x < a.worst {
						a.worst, a.set = x, true
					}
					if min_.count == 0 || x < min_.worst {
						min_.worst = x
					}
					min_.count++
					if len(min_.first) < 5 {
						min_.first = append(min_.first, strconv.Itoa(i))
					}
				}
			}
			s, ok := rows[i][col["v__s"]].(string)
			if !ok {
				nulls++
			} else if s != "a" && s != "b" {
				a := get("v__s", "allowed_values", "[a b]")
				addRow(a, i)
				a.res.Observed = strconv.Quote("c")
				allowed.count++
				if len(allowed.first) < 5 {
					allowed.first = append(allowed.first, strconv.Itoa(i))
				}
			}
		}
		frac := float64(nulls) / float64(hi-lo)
		if frac > 0.25 {
			a := get("v__s", "max_null_fraction", "0.25")
			a.res.Violations += int64(nulls)
			if len(a.res.FirstRows) < 5 {
				a.res.FirstRows = append(a.res.FirstRows, int64(lo))
			}
			if !a.set || frac > a.worst {
				a.worst, a.set = frac, true
			}
		}
		if firstChunk != "" || min_.count+max_.count+allowed.count == 0 && frac <= 0.25 {
			continue
		}
		var msgs []string
		if min_.count > 0 {
			msgs = append(msgs, fmt.Sprintf(`view "v": x: %s is below min 0.1 (%d of %d rows; first rows %s)`, strconv.FormatFloat(min_.worst, 'g', -1, 64), min_.count, hi-lo, strings.Join(min_.first, ", ")))
		}
		if max_.count > 0 {
			msgs = append(msgs, fmt.Sprintf(`view "v": x: %s is above max 1 (%d of %d rows; first rows %s)`, strconv.FormatFloat(max_.worst, 'g', -1, 64), max_.count, hi-lo, strings.Join(max_.first, ", ")))
		}
		if allowed.count > 0 {
			msgs = append(msgs, fmt.Sprintf(`view "v": s: "c" is not in allowed_values [a b] (%d of %d rows; first rows %s)`, allowed.count, hi-lo, strings.Join(allowed.first, ", ")))
		}
		if frac > 0.25 {
			msgs = append(msgs, fmt.Sprintf(`view "v": s: null fraction %s (%d of %d rows) is above max_null_fraction 0.25`, strconv.FormatFloat(frac, 'g', 4, 64), nulls, hi-lo))
		}
		firstChunk = fmt.Sprintf("backfill: data-quality gate failed (strict) in training-set rows [%d, %d): %s", lo, hi, strings.Join(msgs, "; "))
		chunkMsgs = append(chunkMsgs, firstChunk)
	}
	// Results come in column then rule order: x (min, max), s
	// (allowed_values, max_null_fraction).
	for _, key := range []string{"v__x min", "v__x max", "v__s allowed_values", "v__s max_null_fraction"} {
		a := accs[key]
		if a == nil {
			continue
		}
		switch {
		case strings.HasSuffix(key, "max_null_fraction"):
			a.res.Observed = strconv.FormatFloat(a.worst, 'g', 4, 64)
		case a.set:
			a.res.Observed = strconv.FormatFloat(a.worst, 'g', -1, 64)
		}
		results = append(results, a.res)
	}
	return results, firstChunk
}

// TestBackfillGates: a non-strict run reports, in Stats and in the
// profile's "expectations", exactly what a hand-written reference finds in
// the training set, whatever the worker count; a strict run fails on the
// first offending chunk with the exact message, ErrQuality, and no output.
func TestBackfillGates(t *testing.T) {
	dir := gateFixture(t, 400)
	snap := snapshotOf(t, dir)
	ctx := context.Background()
	cfg := func(out string, workers int, strict bool) Config {
		return Config{Snapshot: snap, Features: []string{"v:*", "free:x"}, Spine: filepath.Join(dir, "spine.parquet"),
			Out: filepath.Join(dir, out), Workers: workers, MemoryLimit: 64 << 20, Strict: strict}
	}
	var first []profile.ExpectationResult
	for _, workers := range []int{1, 2, 4} {
		out := fmt.Sprintf("train%d.parquet", workers)
		st, err := Run(ctx, cfg(out, workers, false))
		if err != nil {
			t.Fatal(err)
		}
		names, rows := readTable(t, filepath.Join(dir, out))
		want, _ := refGates(names, rows)
		if len(want) != 4 {
			t.Fatalf("fixture: want all four rules broken, reference found %+v", want)
		}
		if !reflect.DeepEqual(st.Violations, want) {
			t.Errorf("workers=%d: Stats.Violations\n got  %+v\n want %+v", workers, st.Violations, want)
		}
		p, err := profile.Read(st.Profile)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Expectations, want) {
			t.Errorf("workers=%d: profile expectations\n got  %+v\n want %+v", workers, p.Expectations, want)
		}
		if first == nil {
			first = st.Violations
		} else if !reflect.DeepEqual(first, st.Violations) {
			t.Errorf("workers=%d differs from workers=1", workers)
		}
	}
	names, rows := readTable(t, filepath.Join(dir, "train1.parquet"))
	_, wantErr := refGates(names, rows)
	for _, workers := range []int{1, 3} {
		out := filepath.Join(dir, "strict.parquet")
		_, err := Run(ctx, cfg("strict.parquet", workers, true))
		var qe *QualityError
		if !errors.Is(err, ErrQuality) || !errors.As(err, &qe) {
			t.Fatalf("strict: %v, want a QualityError", err)
		}
		if err.Error() != wantErr {
			t.Errorf("strict, workers=%d:\n got  %s\n want %s", workers, err, wantErr)
		}
		if qe.Columns[0] != "v__x" {
			t.Errorf("columns %v", qe.Columns)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("strict failure left %s (%v)", out, err)
		}
		if _, err := os.Stat(out + ".profile.json"); !os.IsNotExist(err) {
			t.Errorf("strict failure left a profile (%v)", err)
		}
		left, _ := filepath.Glob(filepath.Join(dir, "*strict*"))
		if len(left) > 0 {
			t.Errorf("strict failure left %v", left)
		}
	}
	// Only ungated outputs requested: no gates, nothing reported, strict
	// or not.
	st, err := Run(ctx, Config{Snapshot: snap, Features: []string{"free:x", "v:n"}, Spine: filepath.Join(dir, "spine.parquet"),
		Out: filepath.Join(dir, "free.parquet"), Workers: 2, MemoryLimit: 64 << 20, Strict: true})
	if err != nil || st.Violations != nil {
		t.Fatalf("ungated run: %v, violations %+v", err, st.Violations)
	}
	if p, err := profile.Read(st.Profile); err != nil || p.Expectations != nil {
		t.Fatalf("ungated profile: %v %+v", err, p)
	}
}

// TestGatesCompiledOnlyWhereDefined: a run whose requested outputs have
// no gate compiles none (the workers check nothing); the gated outputs
// of a view are the requested ones only.
func TestGatesCompiledOnlyWhereDefined(t *testing.T) {
	dir := gateFixture(t, 10)
	snap := snapshotOf(t, dir)
	for _, c := range []struct {
		features []string
		checks   int
	}{
		{[]string{"free:x"}, 0},
		{[]string{"free:x", "v:n"}, 1},
		{[]string{"v:x"}, 1},
		{[]string{"v:*"}, 3},
	} {
		cfg := Config{Snapshot: snap, Features: c.features, Spine: filepath.Join(dir, "spine.parquet"), Out: filepath.Join(dir, "o.parquet")}
		cfg.ensureDefaults()
		r := &run{cfg: cfg, ix: snap.Index}
		if err := r.resolve(); err != nil {
			t.Fatal(err)
		}
		g := r.newGates(false)
		n := 0
		if g != nil {
			for _, gj := range g.jobs {
				n += len(gj.checks)
			}
		}
		if n != c.checks || (n == 0) != (g == nil) {
			t.Errorf("%v: %d gated outputs (gates %v), want %d", c.features, n, g != nil, c.checks)
		}
	}
}

// TestWorse: combining chunks keeps the worst observed value, compared as
// numbers (not text) and timestamps.
func TestWorse(t *testing.T) {
	for _, c := range []struct {
		rule compute.Rule
		typ  def.ValueType
		a, b string
		want bool
	}{
		{compute.RuleMax, def.Double, "9", "10", true},
		{compute.RuleMax, def.Double, "10", "9", false},
		{compute.RuleMin, def.Int64, "-2", "-10", true},
		{compute.RuleMin, def.Int64, "-10", "-2", false},
		{compute.RuleMax, def.Timestamp, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z", true},
		{compute.RuleMaxNullFraction, def.String, "0.3", "0.25", false},
		{compute.RuleMaxNullFraction, def.String, "0.3", "0.5", true},
		{compute.RuleAllowedValues, def.String, `"c"`, `"d"`, false},
	} {
		if got := worse(c.rule, c.typ, c.a, c.b); got != c.want {
			t.Errorf("worse(%s, %s, %s, %s) = %v", c.rule, c.typ, c.a, c.b, got)
		}
	}
}
