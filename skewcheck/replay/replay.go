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

// group is the log files of one schema: one service at one registry
// version, with the same columns (the service's own rows, or a model's
// predictions on it).
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
			return g.service == f.Meta.Service && g.version == f.Meta.RegistryVersion && slices.Equal(g.files[0].Meta.Columns, f.Meta.Columns)
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
	paths := make([]string, len(g.files))
	var total int64
	for i, f := range g.files {
		paths[i] = f.Path
		total += f.Meta.Rows
	}
	gr.Files = paths
	progress := func(phase string, done, total int64) {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Service: g.service, RegistryVersion: g.version, Phase: phase, Done: done, Total: total})
		}
	}
	schema, err := g.files[0].Meta.Schema()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLog, g.files[0].Path, err)
	}
	gr.Model = schema.Model
	snap, err := cfg.Snapshot(ctx, g.version)
	if err != nil {
		return nil, fmt.Errorf("replay: service %q: cannot get registry version %d: %w", g.service, g.version, err)
	}
	if snap == nil || snap.Version != g.version {
		return nil, fmt.Errorf("replay: service %q: asked for registry version %d, got another", g.service, g.version)
	}
	feats, refs, offline, err := resolve(snap, schema, g.files[0].Path, cfg.Tolerance)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cfg.TempDir, "fstore-replay-")
	if err != nil {
		return nil, fmt.Errorf("replay: cannot create a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	// Recompute every logged feature at every logged row's request time:
	// the log files are the spine, only request_ts carried through (to
	// check the order), no profile.
	start := time.Now()
	out := filepath.Join(tmp, "offline.parquet")
	bcfg := backfill.Config{
		Snapshot: snap, Features: refs, Spines: paths, SpineColumns: []string{requestTSCol}, Out: out,
		TimestampColumn: requestTSCol, NoProfile: true,
		Workers: cfg.Workers, MemoryLimit: cfg.MemoryLimit, TempDir: tmp,
	}
	if cfg.Progress != nil {
		bcfg.Progress = func(p backfill.Progress) { progress("backfill "+p.Phase, p.Done, p.Total) }
	}
	if _, err := backfill.Run(ctx, bcfg); err != nil {
		return nil, fmt.Errorf("replay: service %q at registry version %d: %w", g.service, g.version, err)
	}
	gr.Elapsed["backfill"] = time.Since(start)

	// Compare: the log files, in the order backfill read them, beside the
	// recomputed rows, row group by row group.
	start = time.Now()
	c := newComparer(schema, feats, offline)
	if err := compare(ctx, cfg, g, paths, out, c, total, func(d int64) { progress("compare", d, total) }); err != nil {
		return nil, err
	}
	gr.Rows = c.rows
	if gr.Rows == 0 {
		return gr, nil
	}
	for i, f := range feats {
		cnt := c.counts[i]
		cnt.finish()
		gr.Features = append(gr.Features, FeatureReport{Feature: f.name, Tolerance: f.tol, Counts: cnt})
		gr.Total.add(cnt)
	}
	if gr.Model {
		gr.Endpoints, gr.Models = sortedNames(c.endpoints), sortedNames(c.models)
		gr.NamesTruncated = c.moreEndpoints || c.more
	}
	var es []*entity
	gr.Worst, es = c.worst(cfg.Worst)
	if err := requestIDs(paths, gr.Worst, es); err != nil {
		return nil, err
	}
	gr.WorstApproximate = c.approx
	gr.Elapsed["compare"] = time.Since(start)
	return gr, nil
}

// compare streams the group's log files and the recomputed rows side by
// side: both hold the same rows in the same order (backfill keeps spine
// order), so each window of rows present in both batches is compared.
// Rows whose request_ts is outside [Since, Until] (in files that straddle
// a bound) were recomputed but are skipped.
func compare(ctx context.Context, cfg *Config, g *group, paths []string, out string, c *comparer, total int64, progress func(int64)) error {
	since, until := micros(cfg.Since, math.MinInt64), micros(cfg.Until, math.MaxInt64)
	logs := newStream("log", paths, logFields(c.s))
	defer logs.close()
	var skip []bool
	logs.loaded = func(s *stream) error {
		m := g.files[s.file].Meta
		if m.FirstRequestTS.UnixMicro() >= since && m.LastRequestTS.UnixMicro() <= until {
			skip = nil
			return nil
		}
		b := &s.cur.b
		skip = slices.Grow(skip[:0], b.Len)[:b.Len]
		for i, ts := range b.Cols[0].I64[:b.Len] {
			skip[i] = ts < since || ts > until
		}
		return nil
	}
	off := newStream("recomputed rows", []string{out}, offFields(c.feats, c.offline))
	defer off.close()
	var done int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ln, err := logs.left()
		if err != nil {
			return err
		}
		on, err := off.left()
		if err != nil {
			return err
		}
		if ln == 0 || on == 0 {
			if ln != on {
				return fmt.Errorf("%w: the offline engine returned a number of rows other than the %d logged", ErrLog, total)
			}
			return nil
		}
		n := min(ln, on)
		if err := c.window(&logs.cur.b, logs.pos, &off.cur.b, off.pos, n, skip, logs.file, logs.base); err != nil {
			return fmt.Errorf("%s: %w", paths[logs.file], err)
		}
		logs.pos += n
		off.pos += n
		done += int64(n)
		if logs.pos == logs.cur.b.Len {
			progress(done)
		}
	}
}

func sortedNames(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
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
