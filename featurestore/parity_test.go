package featurestore_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/backfill"
	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/pqtest"
)

type parityRow struct {
	K       *int64   `parquet:"k,optional"`
	TS      *int64   `parquet:"ts,timestamp(microsecond),optional"`
	Created *int64   `parquet:"created,timestamp(millisecond),optional"`
	X       *float64 `parquet:"x,optional"`
	N       *int64   `parquet:"n,optional"`
	S       *string  `parquet:"s,optional"`
}

type paritySpine struct {
	K  int64 `parquet:"k"`
	TS int64 `parquet:"event_timestamp,timestamp(microsecond)"`
}

const parityViews = `
entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "src" parquet { path: "src" } timestamp_column: "ts" created_timestamp_column: "created" }
feature_views {
  name: "v" entities: "e" source: "src" %s %s
  features { name: "x" type: DOUBLE }
  features { name: "n" type: INT64 }
  features { name: "s" type: STRING }
  features { name: "x2" type: DOUBLE expr: "x * 2 + float(n)" }
  aggregations { name: "sum_x" function: SUM expr: "x" window { seconds: 3600 } hop { seconds: 300 } }
  aggregations { name: "cnt" function: COUNT window { seconds: 7200 } hop { seconds: 600 } }
  aggregations { name: "mean_x" function: MEAN expr: "x" window { seconds: 7200 } hop { seconds: 900 } }
  aggregations { name: "sd_x" function: STDDEV expr: "x" window { seconds: 3600 } hop { seconds: 300 } }
  aggregations { name: "max_n" function: MAX expr: "n" window { seconds: 1800 } hop { seconds: 1800 } }
  aggregations { name: "min_s" function: MIN expr: "s" window { seconds: 3600 } hop { seconds: 600 } }
  aggregations { name: "last_x" function: LAST expr: "x" window { seconds: 5400 } hop { seconds: 1800 } }
  aggregations { name: "sum_n" function: SUM expr: "n" window { seconds: 86400 } hop { seconds: 3600 } }
}
`

// TestParityWithBackfill materialises random histories as of T (in one run
// or incrementally in two), reads every entity at T, and compares each
// value with backfill's for a spine of (every entity, T): identical,
// floats bit for bit, windows included. Run on every store.
func TestParityWithBackfill(t *testing.T) {
	iters := 12
	if testing.Short() {
		iters = 4
	}
	for _, kind := range onlineStores() {
		t.Run(kind.name, func(t *testing.T) {
			open := kind.setup(t)
			for it := range iters {
				t.Run(fmt.Sprint(it), func(t *testing.T) { parityCase(t, uint64(it), open(t)) })
			}
		})
	}
}

func parityCase(t *testing.T, seed uint64, store featurestore.OnlineStore) {
	r := rand.New(rand.NewPCG(seed, 99))
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	const hour = int64(time.Hour / time.Microsecond)
	entities := 1 + r.IntN(60)
	span := 10 * hour
	T := span/2 + r.Int64N(span/2)
	for f := range 1 + r.IntN(3) {
		var rows []parityRow
		for range r.IntN(400) {
			row := parityRow{}
			if r.IntN(40) != 0 {
				row.K = ptr(int64(r.IntN(entities)))
			}
			if r.IntN(50) != 0 {
				// Coarse times make ties common; a few land exactly on T.
				ts := r.Int64N(span/60_000_000) * 60_000_000
				if r.IntN(30) == 0 {
					ts = T
				}
				row.TS = &ts
			}
			if r.IntN(3) != 0 {
				row.Created = ptr(r.Int64N(4) * 1000)
			}
			if r.IntN(8) != 0 {
				row.X = ptr(math.Round(r.NormFloat64()*1000) / 7)
			}
			if r.IntN(8) != 0 {
				row.N = ptr(r.Int64N(1000) - 500)
			}
			if r.IntN(8) != 0 {
				row.S = ptr(fmt.Sprintf("s%02d", r.IntN(30)))
			}
			rows = append(rows, row)
		}
		if err := parquet.WriteFile(filepath.Join(dir, "src", fmt.Sprintf("part-%d.parquet", f)), rows, parquet.MaxRowsPerRowGroup(int64(1+r.IntN(100)))); err != nil {
			t.Fatal(err)
		}
	}
	ttl, filter := "", ""
	if r.IntN(2) == 0 {
		ttl = fmt.Sprintf("ttl { seconds: %d }", 1800*(1+r.IntN(4)))
	}
	if r.IntN(3) == 0 {
		filter = `filter: "n > -300"`
	}
	os.WriteFile(filepath.Join(dir, "defs.textproto"), []byte(fmt.Sprintf(parityViews, ttl, filter)), 0o644)
	fs, err := featurestore.Open(filepath.Join(dir, "data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	p, origins, err := registry.LoadFiles([]string{filepath.Join(dir, "defs.textproto")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, compute.NewChecker())
	if err != nil {
		t.Fatal(err)
	}
	res, err := fs.Registry().Apply(d, registry.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ix := res.Snapshot.Index

	// Materialise: in one run, or first as of an earlier time and then
	// incrementally up to T.
	ctx := context.Background()
	opts := featurestore.MaterializeOptions{End: time.UnixMicro(T), Workers: 1 + r.IntN(3), BatchSize: 1 + r.IntN(50)}
	if r.IntN(2) == 0 {
		early := opts
		early.End = time.UnixMicro(r.Int64N(T))
		if _, err := featurestore.Materialize(ctx, ix, store, early); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := featurestore.Materialize(ctx, ix, store, opts); err != nil {
		t.Fatal(err)
	}

	// Backfill every entity (and two unknown ones) at T.
	var spine []paritySpine
	for k := range entities + 2 {
		spine = append(spine, paritySpine{K: int64(k), TS: T})
	}
	spinePath := filepath.Join(dir, "spine.parquet")
	if err := parquet.WriteFile(spinePath, spine); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "train.parquet")
	if _, err := backfill.Run(ctx, backfill.Config{Snapshot: res.Snapshot, Features: []string{"v:*"}, Spine: spinePath, Out: out}); err != nil {
		t.Fatal(err)
	}
	names, want := pqtest.ReadTable(t, out)

	ov, err := featurestore.CompileOnline(ix, ix.FeatureView("v"))
	if err != nil {
		t.Fatal(err)
	}
	var keys compute.Column
	keys.Reset(def.Int64, len(spine))
	for i, s := range spine {
		keys.I64[i] = s.K
	}
	var got featurestore.ReadResult
	if err := featurestore.Read(ctx, store, ov, []*compute.Column{&keys}, len(spine), T, &got); err != nil {
		t.Fatal(err)
	}
	for o, f := range ov.Outputs {
		col := -1
		for i, n := range names {
			if n == "v__"+f.Name {
				col = i
			}
		}
		if col < 0 {
			t.Fatalf("backfill has no column v__%s: %v", f.Name, names)
		}
		for i := range spine {
			g, w := normalize(got.Values[o].Value(i)), want[i][col]
			if !sameValue(g, w) {
				t.Fatalf("seed %d entity %d feature %s at T=%d: online %v (%s), backfill %v", seed, spine[i].K, f.Name, T, g, got.Status[o][i], w)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

func normalize(v any) any {
	if ts, ok := v.(compute.Timestamp); ok {
		return int64(ts)
	}
	return v
}

// sameValue compares floats bit for bit (NaN included).
func sameValue(a, b any) bool {
	fa, ok1 := a.(float64)
	fb, ok2 := b.(float64)
	if ok1 && ok2 {
		return math.Float64bits(fa) == math.Float64bits(fb)
	}
	return a == b
}
