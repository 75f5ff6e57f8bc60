package replay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fstore/fstore/backfill"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/skewcheck/featurelog"
)

// group is the log files of one service at one registry version.
type group struct {
	service string
	version uint64
	files   []featurelog.FileInfo
}

// Run replays the logs in cfg.Logs: see the package documentation. A
// directory with no log file in the time range is an error matching
// ErrNoLogs, never an empty report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := os.Stat(cfg.Logs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: Logs: %s does not exist", ErrConfig, cfg.Logs)
	case err != nil:
		return nil, fmt.Errorf("%w: Logs: %v", ErrConfig, err)
	case !st.IsDir():
		return nil, fmt.Errorf("%w: Logs: %s is not a directory", ErrConfig, cfg.Logs)
	}
	files, err := featurelog.List(cfg.Logs, cfg.Since, cfg.Until)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, noLogs(cfg)
	}
	var groups []*group
	for _, f := range files {
		i := slices.IndexFunc(groups, func(g *group) bool {
			return g.service == f.Meta.Service && g.version == f.Meta.RegistryVersion
		})
		if i < 0 {
			i = len(groups)
			groups = append(groups, &group{service: f.Meta.Service, version: f.Meta.RegistryVersion})
		}
		groups[i].files = append(groups[i].files, f)
	}
	rep := &Report{Logs: cfg.Logs, Groups: []GroupReport{}}
	if !cfg.Since.IsZero() {
		t := cfg.Since.UTC()
		rep.Since = &t
	}
	if !cfg.Until.IsZero() {
		t := cfg.Until.UTC()
		rep.Until = &t
	}
	for _, g := range groups {
		gr, err := runGroup(ctx, &cfg, g)
		if err != nil {
			return nil, err
		}
		if gr.Rows == 0 {
			continue
		}
		rep.Groups = append(rep.Groups, *gr)
		rep.Rows += gr.Rows
		rep.Total.add(gr.Total)
	}
	if rep.Rows == 0 {
		return nil, noLogs(cfg)
	}
	return rep, nil
}

func noLogs(cfg Config) error {
	all, err := featurelog.List(cfg.Logs, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("%w: %s holds no published feature log (*.parquet with %q metadata)", ErrNoLogs, cfg.Logs, featurelog.MetadataKey)
	}
	first, last := all[0].Meta.FirstRequestTS, all[0].Meta.LastRequestTS
	for _, f := range all {
		if f.Meta.FirstRequestTS.Before(first) {
			first = f.Meta.FirstRequestTS
		}
		if f.Meta.LastRequestTS.After(last) {
			last = f.Meta.LastRequestTS
		}
	}
	return fmt.Errorf("%w: none of the %d log files under %s has requests in [%s, %s]; they hold requests from %s to %s",
		ErrNoLogs, len(all), cfg.Logs, timeText(cfg.Since), timeText(cfg.Until),
		first.UTC().Format(time.RFC3339Nano), last.UTC().Format(time.RFC3339Nano))
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// micros converts a range bound; zero is open.
func micros(t time.Time, open int64) int64 {
	if t.IsZero() {
		return open
	}
	return t.UnixMicro()
}

func runGroup(ctx context.Context, cfg *Config, g *group) (*GroupReport, error) {
	gr := &GroupReport{Service: g.service, RegistryVersion: g.version, Features: []FeatureReport{}, Worst: []EntityReport{}, Elapsed: map[string]time.Duration{}}
	for _, f := range g.files {
		gr.Files = append(gr.Files, f.Path)
		if !slices.Equal(f.Meta.Columns, g.files[0].Meta.Columns) {
			return nil, fmt.Errorf("%w: %s and %s both log service %q at registry version %d with different columns", ErrLog, g.files[0].Path, f.Path, g.service, g.version)
		}
	}
	progress := func(phase string, done, total int64) {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Service: g.service, RegistryVersion: g.version, Phase: phase, Done: done, Total: total})
		}
	}
	start := time.Now()
	first, err := featurelog.ReadFile(g.files[0].Path)
	if err != nil {
		return nil, err
	}
	snap, err := cfg.Snapshot(ctx, g.version)
	if err != nil {
		return nil, fmt.Errorf("replay: service %q: cannot get registry version %d: %w", g.service, g.version, err)
	}
	if snap == nil || snap.Version != g.version {
		return nil, fmt.Errorf("replay: service %q: asked for registry version %d, got another", g.service, g.version)
	}
	feats, refs, offline, err := resolve(snap, first.Schema, g.files[0].Path, cfg.Tolerance)
	if err != nil {
		return nil, err
	}
	l, err := newSpineLayout(first.Schema)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cfg.TempDir, "fstore-replay-")
	if err != nil {
		return nil, fmt.Errorf("replay: cannot create a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	// Spine: every logged row in range, in log order.
	spine := filepath.Join(tmp, "spine.parquet")
	sw, err := newSpineWriter(spine, l)
	if err != nil {
		return nil, err
	}
	var total, done int64
	for _, f := range g.files {
		total += f.Meta.Rows
	}
	since, until := micros(cfg.Since, math.MinInt64), micros(cfg.Until, math.MaxInt64)
	for i, fi := range g.files {
		if err := ctx.Err(); err != nil {
			sw.abort()
			return nil, err
		}
		f := first
		if i > 0 {
			if f, err = featurelog.ReadFile(fi.Path); err != nil {
				sw.abort()
				return nil, err
			}
		}
		first = nil
		if err := sw.writeFile(f, since, until); err != nil {
			sw.abort()
			return nil, err
		}
		done += int64(f.Rows)
		progress("spine", done, total)
	}
	if err := sw.close(); err != nil {
		return nil, err
	}
	gr.Rows = sw.rows
	gr.Elapsed["spine"] = time.Since(start)
	if gr.Rows == 0 {
		return gr, nil
	}

	// Recompute every logged feature at every row's request time.
	start = time.Now()
	out := filepath.Join(tmp, "offline.parquet")
	bcfg := backfill.Config{
		Snapshot: snap, Features: refs, Spine: spine, Out: out, TimestampColumn: requestTSCol,
		Workers: cfg.Workers, MemoryLimit: cfg.MemoryLimit, TempDir: tmp,
	}
	if cfg.Progress != nil {
		bcfg.Progress = func(p backfill.Progress) { progress("backfill "+p.Phase, p.Done, p.Total) }
	}
	if _, err := backfill.Run(ctx, bcfg); err != nil {
		return nil, fmt.Errorf("replay: service %q at registry version %d: %w", g.service, g.version, err)
	}
	gr.Elapsed["backfill"] = time.Since(start)

	// Compare, row group by row group.
	start = time.Now()
	c := newComparer(l, feats, offline)
	if err := c.run(out, func(d int64) { progress("compare", d, gr.Rows) }); err != nil {
		return nil, err
	}
	if c.next != gr.Rows {
		return nil, fmt.Errorf("%w: the offline engine returned %d rows for a spine of %d", ErrLog, c.next, gr.Rows)
	}
	for i, f := range feats {
		cnt := c.counts[i]
		cnt.finish()
		gr.Features = append(gr.Features, FeatureReport{Feature: f.name, Tolerance: f.tol, Counts: cnt})
		gr.Total.add(cnt)
	}
	var rows []int64
	gr.Worst, rows = c.worst(cfg.Worst)
	if err := requestIDs(out, gr.Worst, rows); err != nil {
		return nil, err
	}
	gr.WorstApproximate = c.approx
	gr.Elapsed["compare"] = time.Since(start)
	return gr, nil
}

// resolve maps the logged features to the registry version's definitions:
// their references for backfill, the output column names, and each one's
// comparison (type and tolerance). The tolerance applies to DOUBLE results
// of SUM, MEAN and STDDEV aggregations of views whose source is a push
// source, the function taken from the definition.
func resolve(snap *registry.Snapshot, s *featurelog.Schema, path string, tol float64) ([]feature, []string, []string, error) {
	ix := snap.Index
	var (
		feats   []feature
		refs    []string
		offline []string
	)
	for _, f := range s.Features {
		ref, ok := ix.ColumnRef(f.Name)
		if !ok {
			return nil, nil, nil, fmt.Errorf("%w: %s: feature column %q: registry version %d defines no such feature", ErrLog, path, f.Name, snap.Version)
		}
		ft := feature{name: f.Name, typ: f.Type}
		if v := ix.FeatureView(ref.View); v != nil && f.Type == def.Double {
			if src := ix.Source(v.Source); src != nil && src.Kind == def.SourcePush {
				for _, a := range v.Aggregations {
					if a.Name == ref.Feature && (a.Func == def.Sum || a.Func == def.Mean || a.Func == def.Stddev) {
						ft.tol = tol
					}
				}
			}
		}
		feats = append(feats, ft)
		refs = append(refs, ref.String())
		offline = append(offline, ref.Column())
	}
	return feats, refs, offline, nil
}
