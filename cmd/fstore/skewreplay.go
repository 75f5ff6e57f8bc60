package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/featurestore/registry"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
	"github.com/fstore/fstore/skewcheck/replay"
)

func newSkewReplayCmd(g *globals) *cobra.Command {
	var (
		cfg          replay.Config
		since, until string
		out, memory  string
		maxMismatch  float64
	)
	cmd := &cobra.Command{
		Use:   "replay --logs DIR [--since T] [--until T] [--out FILE] [--max-mismatch RATE]",
		Short: "Recompute logged served rows offline and compare them value by value",
		Long: `replay reads the feature logs under --logs (written by fstore serve for
services with logging), recomputes every logged feature with the offline
engine (backfill) at each row's request time and with the registry version
the log recorded, and compares each served value with the offline one:
match, mismatch (both set, different), served-only (offline null) and
offline-only (served null: NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE).
Values compare exactly, doubles bit for bit; only SUM, MEAN and STDDEV
aggregations of push-fed views allow --tolerance (relative), since pushed
events may be added in another order.

It prints counts and rates per feature, the total, and the entities with
the most disagreeing rows (-o json for JSON; --out writes the JSON to a
file too). Exit status 1 when the total mismatch rate (disagreeing values
over compared values) is above --max-mismatch (default 0); 2 when --logs
holds no log file in the time range.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Logs == "" {
				return usageError{fmt.Errorf("want --logs DIR")}
			}
			var err error
			if cfg.Since, err = parseTimeFlag("since", since); err != nil {
				return err
			}
			if cfg.Until, err = parseTimeFlag("until", until); err != nil {
				return err
			}
			if memory != "" {
				if cfg.MemoryLimit, err = parseSize(memory); err != nil {
					return usageError{fmt.Errorf("--memory-limit %q: %v", memory, err)}
				}
			}
			if maxMismatch < 0 || maxMismatch > 1 || maxMismatch != maxMismatch {
				return usageError{fmt.Errorf("--max-mismatch %g: want a rate from 0 to 1", maxMismatch)}
			}
			if cfg.Tolerance < 0 {
				return usageError{fmt.Errorf("--tolerance %g: want a relative tolerance >= 0", cfg.Tolerance)}
			}
			cfg.Snapshot = g.snapshotAt
			progress := isTerminal(g.stderr) && !g.quiet
			if progress {
				cfg.Progress = replayProgress(g)
			}
			rep, err := replay.Run(cmd.Context(), cfg)
			if progress {
				fmt.Fprint(g.stderr, "\r\033[K")
			}
			if errors.Is(err, replay.ErrNoLogs) || errors.Is(err, replay.ErrConfig) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			js, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				return err
			}
			js = append(js, '\n')
			if out != "" {
				if err := writeFileAtomic(out, js); err != nil {
					return err
				}
			}
			if g.output == "json" {
				if _, err := g.stdout.Write(js); err != nil {
					return err
				}
			} else if err := rep.WriteTable(g.stdout); err != nil {
				return err
			}
			if r := rep.Total.MismatchRate; r > maxMismatch {
				return fmt.Errorf("skew replay: mismatch rate %.6g (%d of %d values) is above --max-mismatch %g",
					r, rep.Total.Disagree(), rep.Total.Compared, maxMismatch)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Logs, "logs", "", "feature log directory (the logging destination, or one service's directory in it)")
	f.StringVar(&since, "since", "", "replay requests at or after this time (RFC 3339, YYYY-MM-DD, now or now-DURATION)")
	f.StringVar(&until, "until", "", "replay requests at or before this time (RFC 3339, YYYY-MM-DD, now or now-DURATION)")
	f.StringVar(&out, "out", "", "also write the report as JSON to this file")
	f.Float64Var(&maxMismatch, "max-mismatch", 0, "exit 1 when the total mismatch rate is above this (0 to 1)")
	f.IntVar(&cfg.Worst, "worst", 10, "entities to list, those with the most disagreeing rows")
	f.Float64Var(&cfg.Tolerance, "tolerance", replay.DefaultTolerance, "relative tolerance for SUM/MEAN/STDDEV of push-fed views")
	f.IntVar(&cfg.Workers, "workers", 0, "backfill parallelism (default: all cores)")
	f.StringVar(&memory, "memory-limit", "", "memory backfill's join may hold (default 1GiB)")
	f.StringVar(&cfg.TempDir, "temp-dir", "", "directory for the recomputed rows and spill files (default: the system's)")
	return cmd
}

// snapshotAt returns the registry snapshot of one version: from the data
// directory, or through the server that holds it.
func (g *globals) snapshotAt(ctx context.Context, version uint64) (*registry.Snapshot, error) {
	var snap *registry.Snapshot
	err := g.withRegistry(ctx, func(ctx context.Context, c fstorev1.RegistryServiceClient) error {
		resp, err := c.List(ctx, &fstorev1.ListRequest{Version: version})
		if err != nil {
			return err
		}
		if resp.GetVersion() != version {
			return fmt.Errorf("the registry has no version %d (it answered with version %d)", version, resp.GetVersion())
		}
		snap, err = registry.SnapshotFromObjects(resp.GetVersion(), resp.GetObjects())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s", errorText(err))
	}
	return snap, nil
}

// replayProgress rewrites one terminal line with the group, phase and
// progress.
func replayProgress(g *globals) func(replay.Progress) {
	start := time.Now()
	last := time.Time{}
	return func(p replay.Progress) {
		if time.Since(last) < 200*time.Millisecond && p.Done != p.Total {
			return
		}
		last = time.Now()
		fmt.Fprintf(g.stderr, "\r\033[Kskew replay: %s@%d %s %s/%s (%s elapsed)", p.Service, p.RegistryVersion, p.Phase, human(p.Done), human(p.Total), time.Since(start).Round(time.Second))
	}
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write --out %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot write --out %s: %w", path, err)
	}
	return nil
}
