package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/backfill"
	"github.com/fstore/fstore/featurestore/registry"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

func newBackfillCmd(g *globals) *cobra.Command {
	var cfg backfill.Config
	var features []string
	var ttl, memory string
	cmd := &cobra.Command{
		Use:   "backfill (--service NAME | --features REF[,REF...]) --spine FILE --out FILE",
		Short: "Build a point-in-time-correct training set from Parquet",
		Long: `backfill joins every requested feature onto every spine row as it was known at
the row's timestamp: the latest event at or before it (ties by created
timestamp, then file order), null past the view's TTL, windows as of that
time, on-demand features from the spine's columns. It runs out of core in
--memory-limit, on all cores, and writes --out only when it succeeds, with
its lineage in the file's metadata and a baseline profile beside it
(OUT.profile.json, format fstore.profile/v2; --no-profile skips it).

The data-quality gates (expect) of the requested features are checked on
every output chunk (a spine row group): broken rules are printed as
warnings and recorded in the profile's "expectations"; --strict fails the
backfill instead, naming the view, feature, rule, observed value and first
rows, and writes no output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Features = features
			if ttl != "" {
				d, err := parseDuration(ttl)
				if err != nil {
					return usageError{fmt.Errorf("--ttl-override %q: %v", ttl, err)}
				}
				cfg.TTLOverride = &d
			}
			if memory != "" {
				n, err := parseSize(memory)
				if err != nil {
					return usageError{fmt.Errorf("--memory-limit %q: %v", memory, err)}
				}
				cfg.MemoryLimit = n
			}
			if cfg.Spine == "" || cfg.Out == "" || (cfg.Service == "") == (len(cfg.Features) == 0) {
				return usageError{fmt.Errorf("want --service NAME or --features REF,..., and --spine FILE and --out FILE")}
			}
			snap, err := g.snapshot(cmd.Context())
			if err != nil {
				return err
			}
			cfg.Snapshot = snap
			if isTerminal(g.stderr) && !g.quiet {
				cfg.Progress = progressPrinter(g)
			}
			st, err := backfill.Run(cmd.Context(), cfg)
			if cfg.Progress != nil {
				fmt.Fprint(g.stderr, "\r\033[K")
			}
			if err != nil {
				return err
			}
			for _, v := range st.Violations {
				fmt.Fprintf(g.stderr, "warning: data-quality gate broken (--strict fails on it): %s\n", backfill.DescribeViolation(v))
			}
			fmt.Fprintln(g.stdout, backfillSummary(cfg.Out, st))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Service, "service", "", "feature service whose features to join")
	f.StringSliceVar(&features, "features", nil, "feature references view:feature or view:* (instead of --service)")
	f.StringVar(&cfg.Spine, "spine", "", "spine Parquet file, directory or glob")
	f.StringVar(&cfg.Out, "out", "", "output Parquet file")
	f.StringVar(&cfg.TimestampColumn, "timestamp-column", "event_timestamp", "the spine's timestamp column")
	f.StringVar(&ttl, "ttl-override", "", "replace every view's TTL (e.g. 36h, 7d; 0 for none)")
	f.IntVar(&cfg.Workers, "workers", 0, "parallelism (default: all cores)")
	f.StringVar(&memory, "memory-limit", "", "memory the join may hold (default 1GiB)")
	f.StringVar(&cfg.TempDir, "temp-dir", "", "directory for spill files (default: the system's)")
	f.BoolVar(&cfg.NoProfile, "no-profile", false, "skip the baseline profile (OUT.profile.json)")
	f.BoolVar(&cfg.Strict, "strict", false, "fail (writing nothing) when the training set breaks a data-quality gate, instead of warning")
	return cmd
}

// snapshot returns the latest registry snapshot: from the data directory,
// or through the server that holds it.
func (g *globals) snapshot(ctx context.Context) (*registry.Snapshot, error) {
	var snap *registry.Snapshot
	err := g.withRegistry(ctx, func(ctx context.Context, c fstorev1.RegistryServiceClient) error {
		resp, err := c.List(ctx, &fstorev1.ListRequest{})
		if err != nil {
			return err
		}
		if resp.GetVersion() == 0 {
			return fmt.Errorf("the registry is empty: apply definitions first (fstore apply -f PATH)")
		}
		snap, err = registry.SnapshotFromObjects(resp.GetVersion(), resp.GetObjects())
		return err
	})
	return snap, err
}

// progressPrinter rewrites one terminal line with the phase, its progress
// and an estimate of the phase's remaining time.
func progressPrinter(g *globals) func(backfill.Progress) {
	start := time.Now()
	phase, phaseStart := "", time.Now()
	last := time.Time{}
	return func(p backfill.Progress) {
		if p.Phase != phase {
			phase, phaseStart = p.Phase, time.Now()
		}
		if time.Since(last) < 200*time.Millisecond && p.Done != p.Total {
			return
		}
		last = time.Now()
		unit := "rows"
		if p.Phase == "join" {
			unit = "partitions"
		}
		eta := ""
		if p.Done > 0 && p.Total > p.Done {
			left := time.Duration(float64(time.Since(phaseStart)) * float64(p.Total-p.Done) / float64(p.Done))
			eta = fmt.Sprintf(", %s left in this phase", left.Round(time.Second))
		}
		fmt.Fprintf(g.stderr, "\r\033[Kbackfill: %s %s/%s %s (%s elapsed%s)", p.Phase, human(p.Done), human(p.Total), unit, time.Since(start).Round(time.Second), eta)
	}
}

func human(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}

// backfillSummary is the one-line summary: rows, features, time, peak
// memory, and the share of rows each view left null.
func backfillSummary(out string, st backfill.Stats) string {
	var views []string
	for v := range st.NullRowsByView {
		views = append(views, v)
	}
	sort.Strings(views)
	var nulls []string
	for _, v := range views {
		nulls = append(nulls, fmt.Sprintf("%s %.1f%%", v, 100*float64(st.NullRowsByView[v])/float64(max(st.Rows, 1))))
	}
	s := fmt.Sprintf("backfill: %d rows × %d features → %s in %s", st.Rows, len(st.Columns), out, st.Elapsed.Round(time.Millisecond))
	if st.PeakRSS > 0 {
		s += fmt.Sprintf(", peak RSS %d MiB", st.PeakRSS>>20)
	}
	if len(nulls) > 0 {
		s += "; rows without a value: " + strings.Join(nulls, ", ")
	}
	return s
}

// parseDuration is time.ParseDuration plus a "d" suffix for days.
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("want a duration like 36h or 7d")
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration like 36h or 7d")
	}
	return d, nil
}

// parseSize parses a byte size: 512MiB, 1GiB, 1G, 300MB, 1048576.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("want a size like 512MiB or 1GiB")
			}
			return int64(v * u.mult), nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("want a size like 512MiB or 1GiB")
	}
	return v, nil
}
