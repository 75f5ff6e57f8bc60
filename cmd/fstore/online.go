package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

// storeFlag adds --store to cmd: the online store URL, default $FSTORE_STORE
// or the embedded store in the data directory.
func storeFlag(cmd *cobra.Command, url *string) {
	cmd.Flags().StringVar(url, "store", envOr("FSTORE_STORE", ""),
		"online store: pebble (the data directory, default), redis://host:port/db[?prefix=NS:&client_cache=SIZE] or redis-cluster://h1:p1,h2:p2 (env FSTORE_STORE)")
}

// onlineSession is the registry snapshot and the online store a command
// works on.
type onlineSession struct {
	snap  *registry.Snapshot
	store featurestore.OnlineStore
	close func() error
}

// openOnline opens the latest registry snapshot and the online store at
// url. The embedded store needs the data directory itself, so it cannot be
// used while `fstore serve` holds it.
func (g *globals) openOnline(ctx context.Context, url string) (*onlineSession, error) {
	if url == "" || url == "pebble" {
		st, err := featurestore.Open(g.dataDir, nil)
		if errors.Is(err, featurestore.ErrLocked) {
			addr, _ := featurestore.AdvertisedServer(g.dataDir)
			return nil, fmt.Errorf("%s is in use by fstore serve (%s): its embedded online store can be changed only through that server; stop it, or share the state through Redis (--store redis://...)", g.dataDir, addr)
		}
		if err != nil {
			return nil, err
		}
		snap := st.Registry().Latest()
		if snap == nil || snap.Version == 0 {
			st.Close()
			return nil, fmt.Errorf("the registry is empty: apply definitions first (fstore apply -f PATH)")
		}
		return &onlineSession{snap: snap, store: st.Online(), close: st.Close}, nil
	}
	snap, err := g.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	store, err := featurestore.OpenOnlineStore(url, nil, featurestore.StoreTimeouts{})
	if err != nil {
		return nil, err
	}
	return &onlineSession{snap: snap, store: store, close: store.Close}, nil
}

// parseTimeFlag parses an RFC 3339 time, a date (2006-01-02, UTC), "now",
// or a duration before now ("-2h", "now-2h").
func parseTimeFlag(name, s string) (time.Time, error) {
	now := time.Now()
	switch {
	case s == "":
		return time.Time{}, nil
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "now-") || strings.HasPrefix(s, "-"):
		d, err := parseDuration(strings.TrimPrefix(strings.TrimPrefix(s, "now"), "-"))
		if err != nil {
			return time.Time{}, usageError{fmt.Errorf("--%s %q: %v", name, s, err)}
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageError{fmt.Errorf("--%s %q: want RFC 3339 (2026-01-08T00:00:00Z), a date (2026-01-08), now or now-DURATION", name, s)}
}

func newMaterializeCmd(g *globals) *cobra.Command {
	var views []string
	var start, end, url, keyTTL string
	var full, allowViolations bool
	var workers int
	cmd := &cobra.Command{
		Use:   "materialize [--views V,...] [--end T] [--start T] [--store URL]",
		Short: "Bring the online store up to a time from the views' offline history",
		Long: `materialize computes, with each view's compiled plan, every entity's latest
value as of --end (default now) and the window tiles its aggregations need,
and writes them to the online store. It continues from each view's
watermark (incremental) unless the view was never materialised, its
definition changed, or --full is given. Running it twice changes nothing;
a run that is killed leaves the store readable, and the next run completes
it (the watermark moves only after every value is written).

A run that breaks a view's data-quality gates (its expect rules or
max_freshness_lag) writes nothing for that view and fails naming the view,
feature, rule, observed value and first offending source rows;
--allow-violations writes it anyway and prints the violations as warnings.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := featurestore.MaterializeOptions{Views: views, Full: full, Workers: workers, AllowViolations: allowViolations}
			var err error
			if opts.End, err = parseTimeFlag("end", end); err != nil {
				return err
			}
			if opts.Start, err = parseTimeFlag("start", start); err != nil {
				return err
			}
			if keyTTL != "" {
				if opts.KeyTTL, err = parseDuration(keyTTL); err != nil {
					return usageError{fmt.Errorf("--key-ttl %q: %v", keyTTL, err)}
				}
			}
			s, err := g.openOnline(cmd.Context(), url)
			if err != nil {
				return err
			}
			defer s.close()
			if isTerminal(g.stderr) && !g.quiet {
				opts.Progress = materializeProgress(g)
			}
			stats, err := featurestore.Materialize(cmd.Context(), s.snap.Index, s.store, opts)
			if opts.Progress != nil {
				fmt.Fprint(g.stderr, "\r\033[K")
			}
			for _, st := range stats {
				fmt.Fprintln(g.stdout, materializeSummary(st))
				for _, v := range st.Violations {
					fmt.Fprintf(g.stderr, "warning: data-quality gate broken (allowed): %s\n", v)
				}
			}
			if err == nil && len(stats) == 0 {
				g.note("no online feature view with offline history to materialize")
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&views, "views", nil, "feature views to materialize (default: every online view with offline history)")
	f.StringVar(&end, "end", "", "materialize up to this time (RFC 3339, date, now, now-1h; default now)")
	f.StringVar(&start, "start", "", "skip events at or before this time (default: the view's watermark)")
	f.BoolVar(&full, "full", false, "rebuild from all of history instead of continuing from the watermark")
	f.BoolVar(&allowViolations, "allow-violations", false, "write a run that breaks the views' data-quality gates, reporting the violations instead of failing")
	f.StringVar(&keyTTL, "key-ttl", "", "expire written entities this long after the write (default: never)")
	f.IntVar(&workers, "workers", 0, "parallelism (default: all cores)")
	storeFlag(cmd, &url)
	return cmd
}

func materializeProgress(g *globals) func(featurestore.MaterializeProgress) {
	last := time.Time{}
	begun := map[string]time.Time{}
	return func(p featurestore.MaterializeProgress) {
		key := p.View + "/" + p.Phase
		if _, ok := begun[key]; !ok {
			begun[key] = time.Now()
		}
		if time.Since(last) < 200*time.Millisecond && p.Done != p.Total {
			return
		}
		last = time.Now()
		unit := "rows"
		if p.Phase == "write" {
			unit = "entities"
		}
		eta := ""
		if p.Done > 0 && p.Total > p.Done {
			left := time.Duration(float64(time.Since(begun[key])) * float64(p.Total-p.Done) / float64(p.Done))
			eta = fmt.Sprintf(", %s left", left.Round(time.Second))
		}
		fmt.Fprintf(g.stderr, "\r\033[Kmaterialize %s: %s %s/%s %s%s", p.View, p.Phase, human(p.Done), human(p.Total), unit, eta)
	}
}

func materializeSummary(st featurestore.MaterializeStats) string {
	span := fmt.Sprintf("(%s, %s]", fmtMicros(st.From), fmtMicros(st.Through))
	if st.Mode == "up to date" {
		return fmt.Sprintf("%s: up to date through %s", st.View, fmtMicros(st.Through))
	}
	rate := ""
	if secs := st.Duration.Seconds(); secs > 0 && st.Rows > 0 {
		rate = fmt.Sprintf(", %s rows/s", human(int64(float64(st.Rows)/secs)))
	}
	s := fmt.Sprintf("%s: %s %s: %s rows read, %s events, %d entities written (%s)",
		st.View, st.Mode, span, human(st.Rows), human(st.Events), st.Written, humanBytes(st.Bytes))
	if st.Skipped > 0 {
		s += fmt.Sprintf(", %d already done", st.Skipped)
	}
	if st.Deleted > 0 {
		s += fmt.Sprintf(", %d stale deleted", st.Deleted)
	}
	return s + fmt.Sprintf(" in %s%s", st.Duration.Round(time.Millisecond), rate)
}

func fmtMicros(us int64) string {
	if us == math.MinInt64 {
		return "-∞"
	}
	return time.UnixMicro(us).UTC().Format(time.RFC3339)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newPushCmd(g *globals) *cobra.Command {
	var view, url, keyTTL string
	var maxFuture time.Duration
	cmd := &cobra.Command{
		Use:   "push --view V FILE",
		Short: "Apply events (Parquet, or JSON lines; - for stdin) to a push view's online state",
		Long: `push validates events against the view's push source schema and applies
them to the online state through the view's plan: the latest value moves
only for a later event, and every event counts in its window's tile. A file
ending in .parquet is read as Parquet; anything else as JSON lines, one
object per line with the schema's columns (times as RFC 3339 or integer
microseconds). Nothing is written unless every event is valid: a NaN or an
infinity in a DOUBLE column is refused unless the column sets
allow_non_finite, and so is an event later than now + --max-future.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if view == "" {
				return usageError{fmt.Errorf("want --view V")}
			}
			opts := featurestore.PushOptions{MaxFuture: maxFuture}
			if keyTTL != "" {
				d, err := parseDuration(keyTTL)
				if err != nil {
					return usageError{fmt.Errorf("--key-ttl %q: %v", keyTTL, err)}
				}
				opts.KeyTTL = d
			}
			s, err := g.openOnline(cmd.Context(), url)
			if err != nil {
				return err
			}
			defer s.close()
			ov, err := onlineView(s.snap.Index, view)
			if err != nil {
				return err
			}
			var events *compute.Batch
			if strings.HasSuffix(args[0], ".parquet") {
				events, err = featurestore.ReadParquetEvents(args[0], ov)
			} else {
				var r io.Reader = os.Stdin
				if args[0] != "-" {
					f, ferr := os.Open(args[0])
					if ferr != nil {
						return ferr
					}
					defer f.Close()
					r = f
				}
				events, err = featurestore.DecodeJSONLines(r, ov)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			st, err := featurestore.Push(cmd.Context(), s.store, ov, events, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: pushed %d events (%d passed the filter) for %d entities; latest event %s\n",
				view, st.Events, st.Applied, st.Entities, fmtMicros(st.LatestEvent))
			return nil
		},
	}
	cmd.Flags().StringVar(&view, "view", "", "feature view reading a push source")
	cmd.Flags().StringVar(&keyTTL, "key-ttl", "", "expire written entities this long after the write (default: never)")
	cmd.Flags().DurationVar(&maxFuture, "max-future", 0, "refuse events later than now + this (default 1h; negative: no bound)")
	storeFlag(cmd, &url)
	return cmd
}

func onlineView(ix *def.Index, name string) (*featurestore.OnlineView, error) {
	v := ix.FeatureView(name)
	if v == nil {
		return nil, fmt.Errorf("unknown feature view %q%s", name, def.HintFor(name, ix.Names(def.KindFeatureView)))
	}
	return featurestore.CompileOnline(ix, v)
}

func newReadCmd(g *globals) *cobra.Command {
	var at, url string
	cmd := &cobra.Command{
		Use:   "read VIEW ENTITY...",
		Short: "Read entities' online values with statuses (an ENTITY is its join key values, comma-separated)",
		Long: `read prints, for each entity, every feature of the view as the online store
serves it at --at (default now): value, status (PRESENT, NOT_FOUND,
NULL_VALUE, OUTSIDE_MAX_AGE) and the event time of the entity's latest row.
Windows are evaluated at --at.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTimeFlag("at", at)
			if err != nil {
				return err
			}
			if t.IsZero() {
				t = time.Now()
			}
			s, err := g.openOnline(cmd.Context(), url)
			if err != nil {
				return err
			}
			defer s.close()
			ov, err := onlineView(s.snap.Index, args[0])
			if err != nil {
				return err
			}
			return readEntities(cmd.Context(), g.stdout, s.store, ov, args[1:], t)
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "read as of this time (default now)")
	storeFlag(cmd, &url)
	return cmd
}

// readEntities reads the entities named on the command line and prints a
// table: one row per entity and feature.
func readEntities(ctx context.Context, w io.Writer, store featurestore.OnlineStore, ov *featurestore.OnlineView, entities []string, at time.Time) error {
	keys := make([]*compute.Column, len(ov.KeyTypes))
	for i, t := range ov.KeyTypes {
		keys[i] = &compute.Column{}
		keys[i].ResetBitmap(t, len(entities), false)
	}
	for e, s := range entities {
		parts := strings.Split(s, ",")
		if len(parts) != len(keys) {
			return usageError{fmt.Errorf("entity %q: view %s is keyed by %s: give %d comma-separated values", s, ov.Name, strings.Join(ov.KeyNames, ","), len(keys))}
		}
		for i, p := range parts {
			if ov.KeyTypes[i] == def.String {
				keys[i].S[e] = p
				continue
			}
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("entity %q: %s is INT64, not %q", s, ov.KeyNames[i], p)}
			}
			keys[i].I64[e] = n
		}
	}
	var r featurestore.ReadResult
	if err := featurestore.Read(ctx, store, ov, keys, len(entities), at.UnixMicro(), &r); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tFEATURE\tVALUE\tSTATUS\tEVENT TIME\n", strings.ToUpper(strings.Join(ov.KeyNames, ",")))
	for e, s := range entities {
		ts := ""
		if r.EventTS[e] != 0 {
			ts = fmtMicros(r.EventTS[e])
		}
		for o, f := range ov.Outputs {
			v := r.Values[o].Value(e)
			val := "null"
			switch x := v.(type) {
			case nil:
			case float64:
				val = strconv.FormatFloat(x, 'g', 6, 64)
			case compute.Timestamp:
				val = fmtMicros(int64(x))
			default:
				val = fmt.Sprint(x)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s, f.Name, val, r.Status[o][e], ts)
		}
	}
	return tw.Flush()
}

// listViews prints every feature view with its online freshness: the
// materialisation watermark, the latest pushed event and the lag.
func (g *globals) listViews(ctx context.Context, url string) error {
	s, err := g.openOnline(ctx, url)
	if err != nil {
		return err
	}
	defer s.close()
	ix := s.snap.Index
	names := ix.Names(def.KindFeatureView)
	sort.Strings(names)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VIEW\tONLINE\tMATERIALIZED THROUGH\tLAST PUSHED EVENT\tLAG")
	now := time.Now()
	for _, name := range names {
		v := ix.FeatureView(name)
		if !v.Online {
			fmt.Fprintf(tw, "%s\tno\t\t\t\n", name)
			continue
		}
		ov, err := featurestore.CompileOnline(ix, v)
		if err != nil {
			fmt.Fprintf(tw, "%s\tyes\t(%v)\t\t\n", name, err)
			continue
		}
		w, err := featurestore.ReadWatermark(ctx, s.store, ov)
		if err != nil {
			return err
		}
		through, pushed, lag := "never", "", ""
		if w.Materialized() {
			through = fmtMicros(w.Through)
			if w.SchemaVersion != ov.Layout.SchemaVersion {
				through += " (definition changed: rematerialize)"
			}
		}
		if w.Pushed > 0 {
			pushed = fmtMicros(w.LastPushEvent)
		}
		if d := w.Lag(now); d >= 0 {
			lag = d.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\tyes\t%s\t%s\t%s\n", name, through, pushed, lag)
	}
	return tw.Flush()
}
