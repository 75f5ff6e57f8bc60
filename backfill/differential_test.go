package backfill

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Source rows in four timestamp encodings, as different writers produce
// them. Every variant has the same other columns.
type rowMicros struct {
	K       *int64   `parquet:"k,optional"`
	TS      *int64   `parquet:"ts,timestamp(microsecond),optional"`
	Created *int64   `parquet:"created,timestamp(microsecond),optional"`
	X       *float64 `parquet:"x,optional"`
	N       *int64   `parquet:"n,optional"`
	C       *string  `parquet:"c,optional"`
	G       *string  `parquet:"g,optional"`
}

type rowMillis struct {
	K       *int64   `parquet:"k,optional"`
	TS      *int64   `parquet:"ts,timestamp(millisecond),optional"`
	Created *int64   `parquet:"created,timestamp(microsecond),optional"`
	X       *float64 `parquet:"x,optional"`
	N       *int64   `parquet:"n,optional"`
	C       *string  `parquet:"c,optional"`
	G       *string  `parquet:"g,optional"`
}

type rowNanos struct {
	K       *int64   `parquet:"k,optional"`
	TS      *int64   `parquet:"ts,timestamp(nanosecond),optional"`
	Created *int64   `parquet:"created,timestamp(microsecond),optional"`
	X       *float64 `parquet:"x,optional"`
	N       *int64   `parquet:"n,optional"`
	C       *string  `parquet:"c,optional"`
	G       *string  `parquet:"g,optional"`
}

type rowPlainInt struct {
	K       *int64   `parquet:"k,optional"`
	TS      *int64   `parquet:"ts,optional"` // INT64 microseconds, no logical type
	Created *int64   `parquet:"created,timestamp(microsecond),optional"`
	X       *float64 `parquet:"x,optional"`
	N       *int64   `parquet:"n,optional"`
	C       *string  `parquet:"c,optional"`
	G       *string  `parquet:"g,optional"`
}

type spineRow struct {
	K     *int64  `parquet:"k,optional"`
	T     *int64  `parquet:"event_timestamp,timestamp(microsecond),optional"`
	Label int64   `parquet:"label"`
	G     *string `parquet:"g,optional"`
}

// event is one source row as the reference sees it (timestamps in µs).
type event struct {
	k           *int64
	ts, created *int64
	x           *float64
	n           *int64
	c           *string
	g           *string // second key part in composite-key cases
	seq         int     // file order across files
}

func ptr[T any](v T) *T { return &v }

const minute = int64(time.Minute / time.Microsecond)

func writeFile[T any](t *testing.T, path string, rows []T) {
	t.Helper()
	if err := parquet.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(int64(1+len(rows)/3))); err != nil {
		t.Fatal(err)
	}
}

// TestDifferentialAgainstNaiveReference builds random sources and spines
// and compares every value of the training set with a direct evaluation of
// DESIGN.md's definitions.
func TestDifferentialAgainstNaiveReference(t *testing.T) {
	iters := 25
	if testing.Short() {
		iters = 5
	}
	for it := 0; it < iters; it++ {
		t.Run(fmt.Sprint(it), func(t *testing.T) { differentialCase(t, uint64(it)) })
	}
}

func differentialCase(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 77))
	dir := t.TempDir()
	srcDir := filepath.Join(dir, "src")
	os.MkdirAll(srcDir, 0o755)
	keys := 1 + r.IntN(12)
	// Half the cases key the view on (k INT64, g STRING): the general
	// comparison path rather than the INT64 radix path.
	composite := r.IntN(2) == 0
	hop := int64(1+r.IntN(10)) * minute
	window := hop * int64(1+r.IntN(6))
	ttl := int64(0)
	if r.IntN(2) == 0 {
		ttl = int64(1+r.IntN(60)) * minute
	}
	// Events: duplicate timestamps, created-ts ties and nulls on purpose.
	var events []event
	nfiles := 1 + r.IntN(4)
	seq := 0
	for f := 0; f < nfiles; f++ {
		var evs []event
		for i := r.IntN(40); i > 0; i-- {
			e := event{seq: seq}
			seq++
			if r.IntN(20) != 0 {
				e.k = ptr(int64(r.IntN(keys)))
			}
			if r.IntN(25) != 0 {
				e.ts = ptr(int64(r.IntN(240)-60) * minute / 2)
			}
			if r.IntN(3) != 0 {
				e.created = ptr(int64(r.IntN(3)))
			}
			if r.IntN(6) != 0 {
				e.x = ptr(float64(r.IntN(400)-200) / 4) // exact in binary: sums do not depend on order
			}
			if r.IntN(6) != 0 {
				e.n = ptr(int64(r.IntN(100) - 50))
			}
			if r.IntN(6) != 0 {
				e.c = ptr([]string{"a", "b", "c", ""}[r.IntN(4)])
			}
			if r.IntN(20) != 0 {
				e.g = ptr([]string{"x", "y", "", "x\x00y"}[r.IntN(4)])
			}
			evs = append(evs, e)
		}
		events = append(events, evs...)
		path := filepath.Join(srcDir, fmt.Sprintf("part-%d.parquet", f))
		switch f % 4 {
		case 0:
			rows := make([]rowMicros, len(evs))
			for i, e := range evs {
				rows[i] = rowMicros{e.k, e.ts, e.created, e.x, e.n, e.c, e.g}
			}
			writeFile(t, path, rows)
		case 1:
			rows := make([]rowMillis, len(evs))
			for i, e := range evs {
				// Millisecond files can only hold whole milliseconds.
				if e.ts != nil {
					*e.ts -= *e.ts % 1000
					events[len(events)-len(evs)+i].ts = e.ts
					rows[i] = rowMillis{e.k, ptr(*e.ts / 1000), e.created, e.x, e.n, e.c, e.g}
				} else {
					rows[i] = rowMillis{e.k, nil, e.created, e.x, e.n, e.c, e.g}
				}
			}
			writeFile(t, path, rows)
		case 2:
			rows := make([]rowNanos, len(evs))
			for i, e := range evs {
				var ns *int64
				if e.ts != nil {
					ns = ptr(*e.ts*1000 + int64(r.IntN(1000))) // sub-microsecond part is truncated
				}
				rows[i] = rowNanos{e.k, ns, e.created, e.x, e.n, e.c, e.g}
			}
			writeFile(t, path, rows)
		case 3:
			rows := make([]rowPlainInt, len(evs))
			for i, e := range evs {
				rows[i] = rowPlainInt{e.k, e.ts, e.created, e.x, e.n, e.c, e.g}
			}
			writeFile(t, path, rows)
		}
	}
	// The spine: unknown keys, null keys and times, times before any event,
	// exactly-TTL-old times, unsorted.
	var spine []spineRow
	for i := 0; i < 60; i++ {
		s := spineRow{Label: int64(i)}
		if r.IntN(15) != 0 {
			s.K = ptr(int64(r.IntN(keys + 2)))
		}
		if r.IntN(15) != 0 {
			s.G = ptr([]string{"x", "y", "", "x\x00y", "z"}[r.IntN(5)])
		}
		if r.IntN(15) != 0 {
			s.T = ptr(int64(r.IntN(300)-80) * minute / 2)
		}
		spine = append(spine, s)
	}
	// Make some spine times exactly ttl after an event of their key.
	for i := 0; i < 10 && ttl > 0; i++ {
		e := events[r.IntN(max(len(events), 1))%max(len(events), 1)]
		if len(events) == 0 || e.k == nil || e.ts == nil {
			continue
		}
		spine = append(spine, spineRow{K: ptr(*e.k), T: ptr(*e.ts + ttl), Label: int64(1000 + i), G: e.g})
		spine = append(spine, spineRow{K: ptr(*e.k), T: ptr(*e.ts + ttl + 1), Label: int64(2000 + i), G: e.g})
	}
	writeFile(t, filepath.Join(dir, "spine.parquet"), spine)

	entity := `entities { name: "e" join_keys { name: "k" type: INT64 } }`
	if composite {
		entity = `entities { name: "e" join_keys { name: "k" type: INT64 } join_keys { name: "g" type: STRING } }`
	}
	defs := entity + fmt.Sprintf(`
sources { name: "s" parquet { path: "src" } timestamp_column: "ts" created_timestamp_column: "created" }
feature_views {
  name: "v" entities: "e" source: "s" ttl { seconds: %d }
  filter: "is_null(x) || x > -40"
  features { name: "x" type: DOUBLE }
  features { name: "n2" type: INT64 expr: "n * 2" }
  features { name: "c" type: STRING }
  aggregations { name: "sum_x" function: SUM expr: "x" window { seconds: %d } hop { seconds: %d } }
  aggregations { name: "events" function: COUNT window { seconds: %d } hop { seconds: %d } }
  aggregations { name: "max_n" function: MAX expr: "n" window { seconds: %d } hop { seconds: %d } }
  aggregations { name: "last_c" function: LAST expr: "c" window { seconds: %d } hop { seconds: %d } }
}
`, ttl/1_000_000, window/1_000_000, hop/1_000_000, window/1_000_000, hop/1_000_000, window/1_000_000, hop/1_000_000, window/1_000_000, hop/1_000_000)
	if err := os.WriteFile(filepath.Join(dir, "defs.textproto"), []byte(defs), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 {
		return // a source needs a file to have a schema
	}
	snap := snapshotOf(t, filepath.Join(dir, "defs.textproto"))
	workers := 1 + r.IntN(3)
	// Every feature (the windows need the spill path), then the plain
	// features alone through each join: the broadcast join must agree with
	// the spill path and the reference on the same inputs.
	// The output goes through the chunk writer (spine chunks copied) and,
	// for one variant of each join, through parquet-go's writer.
	variants := []struct {
		name     string
		features []string
		plan     joinPlan
		output   outputPath
		columns  string
	}{
		{"all", []string{"v:*"}, planAuto, outputAuto, "k,event_timestamp,label,g,v__x,v__n2,v__c,v__sum_x,v__events,v__max_n,v__last_c"},
		{"all-rows", []string{"v:*"}, planAuto, outputRows, "k,event_timestamp,label,g,v__x,v__n2,v__c,v__sum_x,v__events,v__max_n,v__last_c"},
		{"plain-spill", []string{"v:x", "v:n2", "v:c"}, planSpill, outputAuto, "k,event_timestamp,label,g,v__x,v__n2,v__c"},
		{"plain-broadcast", []string{"v:x", "v:n2", "v:c"}, planBroadcast, outputAuto, "k,event_timestamp,label,g,v__x,v__n2,v__c"},
		{"plain-broadcast-rows", []string{"v:x", "v:n2", "v:c"}, planBroadcast, outputRows, "k,event_timestamp,label,g,v__x,v__n2,v__c"},
	}
	for _, vr := range variants {
		out := filepath.Join(dir, vr.name+".parquet")
		st, err := Run(context.Background(), Config{
			Snapshot: snap, Features: vr.features, Spine: filepath.Join(dir, "spine.parquet"), Out: out,
			Workers: workers, MemoryLimit: 16 << 20, joinPlan: vr.plan, outputPath: vr.output,
		})
		if err != nil {
			t.Fatal(err)
		}
		wantPlan := "spill"
		if vr.plan == planBroadcast {
			wantPlan = "broadcast"
		}
		if st.Plans["v"] != wantPlan {
			t.Fatalf("%s: view joined by %q, want %q", vr.name, st.Plans["v"], wantPlan)
		}
		names, rows := readTable(t, out)
		if got := strings.Join(names, ","); got != vr.columns {
			t.Fatalf("%s: columns %s", vr.name, got)
		}
		checkDifferential(t, vr.name, names, rows, spine, events, composite, ttl, window, hop)
	}
}

// checkDifferential compares a training set's feature columns (as many of
// x, n2, c, sum_x, events, max_n, last_c as it has) with the reference.
func checkDifferential(t *testing.T, variant string, names []string, rows [][]any, spine []spineRow, events []event, composite bool, ttl, window, hop int64) {
	t.Helper()
	if len(rows) != len(spine) {
		t.Fatalf("%s: %d rows for %d spine rows", variant, len(rows), len(spine))
	}
	// The reference sees events after the filter, in (ts, created, file
	// order) order, with a null created time losing every tie.
	var evs []event
	for _, e := range events {
		if e.k == nil || e.ts == nil || (e.x != nil && *e.x <= -40) || (composite && e.g == nil) {
			continue
		}
		evs = append(evs, e)
	}
	createdOf := func(e event) int64 {
		if e.created == nil {
			return math.MinInt64
		}
		return *e.created
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if *a.ts != *b.ts {
			return *a.ts < *b.ts
		}
		if createdOf(a) != createdOf(b) {
			return createdOf(a) < createdOf(b)
		}
		return a.seq < b.seq
	})
	floor := func(a, b int64) int64 {
		q := a / b
		if a%b != 0 && (a < 0) != (b < 0) {
			q--
		}
		return q
	}
	for i, s := range spine {
		got := rows[i]
		if got[2].(int64) != s.Label {
			t.Fatalf("%s: row %d: label %v, spine order lost", variant, i, got[2])
		}
		want := make([]any, 7)
		if s.K != nil && s.T != nil && (!composite || s.G != nil) {
			k, tq := *s.K, *s.T
			var last *event
			var sum float64
			var haveSum, count int64
			var maxN *int64
			var lastC *string
			for x := range evs {
				e := &evs[x]
				if *e.k != k || *e.ts > tq || (composite && *e.g != *s.G) {
					continue
				}
				last = e
				if floor(*e.ts, hop) > floor(tq, hop)-window/hop {
					count++
					if e.x != nil {
						sum += *e.x
						haveSum++
					}
					if e.n != nil && (maxN == nil || *e.n > *maxN) {
						maxN = e.n
					}
					if e.c != nil {
						lastC = e.c
					}
				}
			}
			if last != nil && (ttl == 0 || *last.ts >= tq-ttl) {
				if last.x != nil {
					want[0] = *last.x
				}
				if last.n != nil {
					want[1] = *last.n * 2
				}
				if last.c != nil {
					want[2] = *last.c
				}
			}
			if haveSum > 0 {
				want[3] = sum
			}
			want[4] = count
			if maxN != nil {
				want[5] = *maxN
			}
			if lastC != nil {
				want[6] = *lastC
			}
		}
		for c, w := range want[:len(names)-4] {
			if got[4+c] != w {
				t.Fatalf("%s: spine row %d (k=%v g=%v t=%v, composite %t): %s = %#v, reference %#v (ttl %d, window %d, hop %d)",
					variant, i, deref(s.K), s.G, deref(s.T), composite, names[4+c], got[4+c], w, ttl, window, hop)
			}
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
