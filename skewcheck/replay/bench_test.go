package replay_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/backfill"
	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/skewcheck/featurelog"
	"github.com/fstore/fstore/skewcheck/replay"
)

type benchSpine struct {
	RequestID string `parquet:"request_id"`
	TS        int64  `parquet:"request_ts,timestamp(microsecond)"`
	K         int64  `parquet:"k"`
}

// BenchmarkReplayVsBackfill times a replay of REPLAY_BENCH_ROWS (default
// 1,000,000) logged rows against a plain backfill of the same requests
// (request_id, request_ts, k: the spine a user would backfill), in
// interleaved rounds (REPLAY_BENCH_ROUNDS, default 5), and reports the
// medians and their ratio. The logged values are the offline ones, so the
// replay finds no disagreement (as in production, where few rows disagree).
// The plain backfill writes its baseline profile, as fstore backfill does;
// replay needs none.
//
// Measured on the shared 2-core development machine (AMD EPYC), medians
// of interleaved rounds, after replay took the log files as its spine
// (the previous spine-writing replay measured 1.87× at 300k rows):
//
//	rows       rounds  backfill  replay  ratio
//	300,000    5       0.81 s    0.91 s  1.13
//	300,000    7       0.78 s    0.95 s  1.22
//	1,000,000  5       2.42 s    2.21 s  0.91
//
// Single rounds vary by up to 2× on that machine (other work shares it):
// compare medians of several rounds, never one.
//
//	REPLAY_BENCH_ROWS=300000 REPLAY_BENCH_ROUNDS=5 go test -run '^$' -bench ReplayVsBackfill -benchtime 1x ./skewcheck/replay
//	REPLAY_BENCH_ROWS=1000000 go test -run '^$' -bench ReplayVsBackfill -benchtime 1x ./skewcheck/replay
func BenchmarkReplayVsBackfill(b *testing.B) {
	rows := envInt("REPLAY_BENCH_ROWS", 1_000_000)
	rounds := envInt("REPLAY_BENCH_ROUNDS", 5)
	dir := b.TempDir()
	snap, logs, spine := benchSetup(b, dir, rows)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var tr, tb []float64
		for r := range rounds {
			start := time.Now()
			out := filepath.Join(dir, fmt.Sprintf("baseline-%d.parquet", r))
			if _, err := backfill.Run(ctx, backfill.Config{Snapshot: snap, Service: "svc", Spine: spine, Out: out, TimestampColumn: "request_ts", TempDir: dir}); err != nil {
				b.Fatal(err)
			}
			tb = append(tb, time.Since(start).Seconds())
			os.Remove(out)
			os.Remove(out + ".profile.json")

			start = time.Now()
			rep, err := replay.Run(ctx, replay.Config{Logs: logs, TempDir: dir,
				Snapshot: func(context.Context, uint64) (*registry.Snapshot, error) { return snap, nil }})
			if err != nil {
				b.Fatal(err)
			}
			tr = append(tr, time.Since(start).Seconds())
			if rep.Rows != int64(rows) || rep.Total.Disagree() != 0 {
				b.Fatalf("replay: %d rows, %+v", rep.Rows, rep.Total)
			}
			b.Logf("round %d: backfill %.3fs, replay %.3fs (%v)", r, tb[r], tr[r], rep.Groups[0].Elapsed)
		}
		mb, mr := median(tb), median(tr)
		b.ReportMetric(mb, "backfill-s")
		b.ReportMetric(mr, "replay-s")
		b.ReportMetric(mr/mb, "ratio")
		b.ReportMetric(float64(rows)/mr, "rows/s")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchSetup writes a history (rows/10 entities, rows events), a spine of
// rows requests and, from a backfill of it, the log of those requests as
// served with the offline values.
func benchSetup(b *testing.B, dir string, rows int) (*registry.Snapshot, string, string) {
	r := rand.New(rand.NewPCG(1, 2))
	ents := max(rows/10, 1)
	span := int64(7 * 24 * 60 * minute)
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	ev := make([]event, rows)
	for i := range ev {
		ev[i] = event{K: r.Int64N(int64(ents)), TS: t0 + r.Int64N(span), X: float64(r.IntN(1_000_000)) / 64, N: r.Int64N(1000)}
	}
	slices.SortFunc(ev, func(a, b event) int { return int(a.TS - b.TS) })
	if err := parquet.WriteFile(filepath.Join(dir, "src", "part-0.parquet"), ev, parquet.MaxRowsPerRowGroup(128<<10)); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "defs.textproto")
	os.WriteFile(path, []byte(fmt.Sprintf(defs, "")), 0o644)
	p, origins, err := registry.LoadFiles([]string{path})
	if err != nil {
		b.Fatal(err)
	}
	d, err := registry.Compile(p, origins, compute.NewChecker())
	if err != nil {
		b.Fatal(err)
	}
	fs, err := featurestore.Open(filepath.Join(dir, "data"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	res, err := fs.Registry().Apply(d, registry.ApplyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	snap := res.Snapshot

	sp := make([]benchSpine, rows)
	for i := range sp {
		sp[i] = benchSpine{RequestID: fmt.Sprintf("req-%08d", i), TS: t0 + int64(i)*(span/int64(rows)), K: r.Int64N(int64(ents))}
	}
	spine := filepath.Join(dir, "spine.parquet")
	if err := parquet.WriteFile(spine, sp, parquet.MaxRowsPerRowGroup(64<<10)); err != nil {
		b.Fatal(err)
	}
	offline := filepath.Join(dir, "offline.parquet")
	if _, err := backfill.Run(context.Background(), backfill.Config{Snapshot: snap, Service: "svc", Spine: spine, Out: offline, TimestampColumn: "request_ts", TempDir: dir}); err != nil {
		b.Fatal(err)
	}

	ov, err := featurestore.CompileOnline(snap.Index, snap.Index.FeatureView("v"))
	if err != nil {
		b.Fatal(err)
	}
	schema := featurelog.Schema{Service: "svc", RegistryVersion: snap.Version, Keys: []def.Field{{Name: "k", Type: def.Int64}}}
	fields := []def.Field{{Name: "request_id", Type: def.String}, {Name: "request_ts", Type: def.Timestamp}, {Name: "k", Type: def.Int64}}
	for _, o := range ov.Outputs {
		f := def.Field{Name: "v__" + o.Name, Type: o.Type}
		schema.Features = append(schema.Features, f)
		fields = append(fields, f)
	}
	s, err := featurelog.NewSchema(schema)
	if err != nil {
		b.Fatal(err)
	}
	logs := filepath.Join(dir, "logs")
	lg, err := featurelog.Open(featurelog.Options{Dir: logs, QueueRows: 1 << 22, MaxFileAge: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	pf, err := compute.OpenParquet(offline, fields, map[string]bool{"request_ts": true})
	if err != nil {
		b.Fatal(err)
	}
	var (
		batch compute.Batch
		vals  []parquet.Value
	)
	for g := range pf.File.RowGroups() {
		if vals, err = pf.ReadRowGroup(g, &batch, vals); err != nil {
			b.Fatal(err)
		}
		lb := featurelog.Acquire(s)
		for i := range batch.Len {
			row := lb.AddRow(batch.Cols[0].S[i], batch.Cols[1].I64[i])
			lb.SetKey(row, 0, batch.Cols[2], i)
			for o := range ov.Outputs {
				st := featurestore.Present
				if batch.Cols[3+o].Null(i) {
					st = featurestore.NotFound
				}
				lb.SetFeature(row, o, batch.Cols[3+o], i, st, 0)
			}
		}
		if lb.Err() != nil {
			b.Fatal(lb.Err())
		}
		lg.Submit(lb)
		if err := lg.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	pf.Close()
	if err := lg.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if st := lg.Stats(); st.RowsLogged != int64(rows) {
		b.Fatalf("logged %+v", st)
	}
	os.Remove(offline)
	return snap, logs, spine
}
