package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/backfill"
	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

func newQuickstartCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Generate the ride-hailing example, apply it, build a training set, materialise it online and read it",
		Long: `quickstart writes the ride-hailing example (definitions and deterministic
Parquet data) into --dir, applies the definitions to the data directory,
prints what the registry now holds, and builds the point-in-time training
set of the trip_completion feature service (DIR/train.parquet). It needs
nothing but this binary, and running it again is harmless: identical
definitions apply as a no-op.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			g.progress("==> generating the ride-hailing example into %s", dir)
			st, err := rides.Write(dir, rides.Config{})
			if err != nil {
				return err
			}
			g.progress("    %d driver_stats rows, %d trips, %d rider profiles, %d spine rows", st.DriverStats, st.Trips, st.Riders, st.Requests)

			defsPath := filepath.Join(dir, rides.DefinitionsFile)
			g.progress("==> fstore apply -f %s", defsPath)
			p, err := loadDefinitions([]string{defsPath})
			if err != nil {
				return err
			}
			err = g.withRegistry(cmd.Context(), func(ctx context.Context, c fstorev1.RegistryServiceClient) error {
				applied, err := c.Apply(ctx, &fstorev1.ApplyRequest{Definitions: p, Description: "quickstart"})
				if err != nil {
					return err
				}
				if applied.GetApplied() {
					fmt.Fprintf(g.stdout, "applied registry version %d (%d objects)\n", applied.GetVersion().GetVersion(), applied.GetVersion().GetObjectCount())
				} else {
					fmt.Fprintf(g.stdout, "registry already at version %d with these definitions\n", applied.GetVersion().GetVersion())
				}

				g.progress("==> fstore list")
				list, err := c.List(ctx, &fstorev1.ListRequest{})
				if err != nil {
					return err
				}
				printObjects(g.stdout, list.GetObjects())

				g.progress("==> fstore describe feature_service trip_completion")
				svc, err := c.Get(ctx, &fstorev1.GetRequest{Kind: "feature_service", Name: "trip_completion"})
				if err != nil {
					return err
				}
				if err := printObject(g.stdout, svc.GetVersion(), svc.GetObject()); err != nil {
					return err
				}

				g.progress("==> fstore history")
				hist, err := c.History(ctx, &fstorev1.HistoryRequest{Limit: 5})
				if err != nil {
					return err
				}
				printHistory(g.stdout, hist.GetVersions())
				return nil
			})
			if err != nil {
				return err
			}

			spine := filepath.Join(dir, "data", "spine.parquet")
			out := filepath.Join(dir, "train.parquet")
			g.progress("==> fstore backfill --service trip_completion --spine %s --out %s", spine, out)
			snap, err := g.snapshot(cmd.Context())
			if err != nil {
				return err
			}
			bst, err := backfill.Run(cmd.Context(), backfill.Config{Snapshot: snap, Service: "trip_completion", Spine: spine, Out: out})
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, backfillSummary(out, bst))

			traffic, err := rides.Traffic(dir, "completion", 1000)
			if err != nil {
				return err
			}
			g.progress("    %s: a /v1/predict body of the spine's last 1000 trip requests (production-like traffic)", traffic)

			end := rides.DefaultEnd
			g.progress("==> fstore materialize --end %s", end.Format(time.RFC3339))
			if err := quickstartOnline(cmd.Context(), g, end); err != nil {
				return err
			}
			g.progress("quickstart done in %s; data dir %s", time.Since(start).Round(time.Millisecond), g.dataDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "quickstart", "directory to write the example's definitions and data into")
	return cmd
}

// quickstartOnline materialises the example's views into the embedded
// store as of the data's end and prints a few online rows with statuses.
func quickstartOnline(ctx context.Context, g *globals, end time.Time) error {
	s, err := g.openOnline(ctx, "")
	if err != nil {
		return err
	}
	defer s.close()
	stats, err := featurestore.Materialize(ctx, s.snap.Index, s.store, featurestore.MaterializeOptions{End: end})
	for _, st := range stats {
		fmt.Fprintln(g.stdout, materializeSummary(st))
	}
	if err != nil {
		return err
	}
	for _, q := range []struct {
		view     string
		entities []string
	}{{"driver_hourly", []string{"1001", "1002", "999999"}}, {"driver_trips", []string{"1001"}}} {
		g.progress("==> fstore read %s %s --at %s", q.view, strings.Join(q.entities, " "), end.Format(time.RFC3339))
		ov, err := onlineView(s.snap.Index, q.view)
		if err != nil {
			return err
		}
		if err := readEntities(ctx, g.stdout, s.store, ov, q.entities, end); err != nil {
			return err
		}
	}
	return nil
}
