package featurestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/redistest"
)

// benchData writes a source of rows events over entities entities with
// nf DOUBLE features f00.., keyed by k, and returns the index of a view
// "v" over it (with the aggregations aggs, textproto, appended).
func benchData(tb testing.TB, dir string, rows, entities, nf int, aggs string) *def.Index {
	tb.Helper()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	g := parquet.Group{
		"k":  parquet.Leaf(parquet.Int64Type),
		"ts": parquet.Timestamp(parquet.Microsecond),
	}
	var feats strings.Builder
	for i := range nf {
		name := fmt.Sprintf("f%02d", i)
		g[name] = parquet.Leaf(parquet.DoubleType)
		fmt.Fprintf(&feats, "features { name: %q type: DOUBLE }\n", name)
	}
	schema := parquet.NewSchema("row", g)
	f, err := os.Create(filepath.Join(src, "part-0.parquet"))
	if err != nil {
		tb.Fatal(err)
	}
	w := parquet.NewWriter(f, schema, parquet.MaxRowsPerRowGroup(64<<10))
	r := rand.New(rand.NewPCG(1, 2))
	// Leaf order is the sorted field order: f00.., k, ts.
	batch := make([]parquet.Row, 0, 4096)
	for i := range rows {
		row := make(parquet.Row, 0, nf+2)
		for c := range nf {
			row = append(row, parquet.DoubleValue(r.Float64()).Level(0, 0, c))
		}
		row = append(row, parquet.Int64Value(int64(i%entities)).Level(0, 0, nf))
		row = append(row, parquet.Int64Value(int64(i)*1000).Level(0, 0, nf+1))
		batch = append(batch, row)
		if len(batch) == cap(batch) || i == rows-1 {
			if _, err := w.WriteRows(batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	text := `entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "s" parquet { path: "` + src + `" } timestamp_column: "ts" }
feature_views { name: "v" entities: "e" source: "s"
` + feats.String() + aggs + "}\n"
	p, err := registry.ParseText("defs", []byte(text))
	if err != nil {
		tb.Fatal(err)
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return def.NewIndex(d)
}

// BenchmarkMaterialize materialises 1M rows × 8 DOUBLE features over 100k
// entities into a fresh Pebble store per iteration (full, end to end:
// read, plan, merge, write). Target: ≥ 1M rows/s.
func BenchmarkMaterialize(b *testing.B) {
	for _, c := range []struct {
		name string
		aggs string
	}{
		{"plain", ""},
		{"windows", `aggregations { name: "s1h" function: SUM expr: "f00" window { seconds: 3600 } hop { seconds: 300 } }
aggregations { name: "n1h" function: COUNT window { seconds: 3600 } hop { seconds: 300 } }`},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			const rows, entities = 1_000_000, 100_000
			ix := benchData(b, dir, rows, entities, 8, c.aggs)
			b.ReportAllocs()
			var bytes int64
			i := 0
			for b.Loop() {
				i++
				st, err := featurestore.Open(filepath.Join(dir, fmt.Sprint("data", i)), nil)
				if err != nil {
					b.Fatal(err)
				}
				stats, err := featurestore.Materialize(context.Background(), ix, st.Online(), featurestore.MaterializeOptions{End: time.UnixMicro(rows * 1000)})
				if err != nil {
					b.Fatal(err)
				}
				bytes = stats[0].Bytes
				st.Close()
			}
			secs := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(rows/secs, "rows/s")
			b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
		})
	}
}

// readSetup materialises entities with nf DOUBLE features and returns the
// view and a key column of n of them.
func readSetup(tb testing.TB, store func(dir string) featurestore.OnlineStore, entities, nf, n int) (featurestore.OnlineStore, *featurestore.OnlineView, *compute.Column) {
	dir := tb.TempDir()
	ix := benchData(tb, dir, entities, entities, nf, "")
	s := store(dir)
	if _, err := featurestore.Materialize(context.Background(), ix, s, featurestore.MaterializeOptions{End: time.UnixMicro(int64(entities) * 1000)}); err != nil {
		tb.Fatal(err)
	}
	ov, err := featurestore.CompileOnline(ix, ix.FeatureView("v"))
	if err != nil {
		tb.Fatal(err)
	}
	keys := &compute.Column{}
	keys.Reset(def.Int64, n)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range n {
		keys.I64[i] = r.Int64N(int64(entities))
	}
	return s, ov, keys
}

func pebbleStore(tb testing.TB) func(dir string) featurestore.OnlineStore {
	return func(dir string) featurestore.OnlineStore {
		st, err := featurestore.Open(filepath.Join(dir, "data"), nil)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st.Online()
	}
}

// benchRead reads the same 100 random entities per iteration and reports
// the 99th percentile of the per-read latency.
func benchRead(b *testing.B, s featurestore.OnlineStore, ov *featurestore.OnlineView, keys *compute.Column) {
	var r featurestore.ReadResult
	ctx := context.Background()
	at := time.Now().UnixMicro()
	read := func() {
		if err := featurestore.Read(ctx, s, ov, []*compute.Column{keys}, keys.Len, at, &r); err != nil {
			b.Fatal(err)
		}
	}
	read() // warm up buffers
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		read()
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkReadPebble: 100 entities × 50 features from Pebble, zero
// allocations in steady state.
func BenchmarkReadPebble(b *testing.B) {
	s, ov, keys := readSetup(b, pebbleStore(b), 100_000, 50, 100)
	benchRead(b, s, ov, keys)
}

// TestReadPebbleAllocs: a steady-state read of 100 entities × 50 DOUBLE
// features from Pebble allocates nothing.
func TestReadPebbleAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s, ov, keys := readSetup(t, pebbleStore(t), 2_000, 50, 100)
	var r featurestore.ReadResult
	ctx := context.Background()
	read := func() {
		if err := featurestore.Read(ctx, s, ov, []*compute.Column{keys}, keys.Len, time.Now().UnixMicro(), &r); err != nil {
			t.Fatal(err)
		}
	}
	read()
	if n := testing.AllocsPerRun(200, read); n != 0 {
		t.Fatalf("a read of 100 entities × 50 features allocates %.1f times", n)
	}
	present := 0
	for i := range keys.Len {
		if r.Status[0][i] == featurestore.Present {
			present++
		}
	}
	if present != keys.Len {
		t.Fatalf("%d of %d entities present", present, keys.Len)
	}
}

// BenchmarkReadRedis: 100 entities × 50 features from a Redis node and a
// 3-node Redis Cluster (real redis-server processes), reporting round
// trips per read: 1 for a node, at most one per node touched for a
// cluster.
func BenchmarkReadRedis(b *testing.B) {
	for _, c := range []struct {
		name  string
		start func(testing.TB) string
	}{
		{"node", redistest.StartServer},
		{"cluster", func(tb testing.TB) string { return redistest.StartCluster(tb, 3) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			url := c.start(b)
			s, ov, keys := readSetup(b, func(string) featurestore.OnlineStore {
				s, err := featurestore.OpenOnlineStore(url, nil, featurestore.StoreTimeouts{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}, 100_000, 50, 100)
			rt := s.(interface{ RoundTrips() int64 })
			before := rt.RoundTrips()
			benchRead(b, s, ov, keys)
			b.ReportMetric(float64(rt.RoundTrips()-before)/float64(b.N+1), "roundtrips/op")
		})
	}
}
