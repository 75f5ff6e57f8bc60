package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run benchmark scenarios (see bench/)",
	}
	var data bench.BackfillData
	gen := &cobra.Command{
		Use:   "backfill-data --dir DIR [--scale S]",
		Short: "Generate the backfill scenario's dataset (scale 1: 5M feature rows × 8 doubles, 100k entities, 1M spine rows)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			var progress func(done, total int)
			if isTerminal(g.stderr) && !g.quiet {
				progress = func(done, total int) {
					fmt.Fprintf(g.stderr, "\r\033[Kgenerating %s/%s rows", human(int64(done)), human(int64(total)))
				}
			}
			if err := data.Generate(progress); err != nil {
				return err
			}
			if progress != nil {
				fmt.Fprint(g.stderr, "\r\033[K")
			}
			rows, entities, spine := data.Counts()
			fmt.Fprintf(g.stdout, "wrote %s: %d feature rows over %d entities, %d spine rows, in %s\n", data.Dir, rows, entities, spine, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	gen.Flags().StringVar(&data.Dir, "dir", "", "directory to write the dataset into")
	gen.Flags().Float64Var(&data.Scale, "scale", 1, "multiplier of every row count")
	gen.MarkFlagRequired("dir")

	var run bench.BackfillRun
	var memory, cpuprofile string
	bf := &cobra.Command{
		Use:   "backfill --dir DIR [--workers N] [--memory-limit SIZE]",
		Short: "Time fstore backfill end to end on a generated dataset (writes DIR/fstore.parquet)",
		Long: `Run this in its own process after backfill-data: the peak RSS it reports is
the process's, so generating in the same process would inflate it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if memory != "" {
				n, err := parseSize(memory)
				if err != nil {
					return usageError{fmt.Errorf("--memory-limit %q: %v", memory, err)}
				}
				run.MemoryLimit = n
			}
			if isTerminal(g.stderr) && !g.quiet {
				run.Progress = progressPrinter(g)
			}
			stop, err := startCPUProfile(cpuprofile)
			if err != nil {
				return err
			}
			defer stop()
			st, err := run.Run(cmd.Context())
			if run.Progress != nil {
				fmt.Fprint(g.stderr, "\r\033[K")
			}
			if err != nil {
				return err
			}
			if g.output == "json" {
				return json.NewEncoder(g.stdout).Encode(map[string]any{
					"rows": st.Rows, "seconds": st.Elapsed.Seconds(), "peak_rss_bytes": st.PeakRSS,
					"partitions": st.Partitions, "workers": run.Workers,
					"scan_seconds": st.Phases["scan"].Seconds(), "join_seconds": st.Phases["join"].Seconds(), "write_seconds": st.Phases["write"].Seconds(),
				})
			}
			fmt.Fprintln(g.stdout, backfillSummary(run.Dir+"/fstore.parquet", st))
			fmt.Fprintf(g.stdout, "phases: scan %s, join %s, write %s; %d partitions\n", st.Phases["scan"].Round(time.Millisecond), st.Phases["join"].Round(time.Millisecond), st.Phases["write"].Round(time.Millisecond), st.Partitions)
			return nil
		},
	}
	bf.Flags().StringVar(&run.Dir, "dir", "", "dataset directory (from backfill-data)")
	bf.Flags().IntVar(&run.Workers, "workers", 0, "parallelism (default: all cores)")
	bf.Flags().StringVar(&memory, "memory-limit", "", "memory the join may hold (default 1GiB)")
	bf.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile to this file")
	bf.MarkFlagRequired("dir")
	cmd.AddCommand(gen, bf, newBenchServeCmd(g), newBenchStallsCmd(g))
	return cmd
}

func newBenchServeCmd(g *globals) *cobra.Command {
	var run bench.ServeRun
	var cpuprofile, traceFile string
	cmd := &cobra.Command{
		Use:   "serve --dir DIR [--store URL] [--shapes 1x10,100x10,100x50] [--conns 1,8,32] [--duration 10s]",
		Short: "Load-test the feature server over loopback: saturation, then latency at half of it",
		Long: `serve generates a dataset of --entities entities with 10 and 50 DOUBLE
features (once, into DIR), materialises it into the online store, starts the
server in this process, and for every request shape and connection count
finds the closed-loop saturation throughput, then runs an open-loop load at
half of it and reports p50/p99/p999 (HDR histograms, corrected for
coordinated omission) and process CPU per request (server and load generator
together: they share this process).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !g.quiet {
				run.Log = func(format string, args ...any) { fmt.Fprintf(g.stderr, format+"\n", args...) }
			}
			stop, err := startCPUProfile(cpuprofile)
			if err != nil {
				return err
			}
			defer stop()
			if traceFile != "" {
				f, err := os.Create(traceFile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := trace.Start(f); err != nil {
					return err
				}
				defer trace.Stop()
			}
			var results []bench.ServeResult
			err = run.Run(cmd.Context(), func(r bench.ServeResult) { results = append(results, r) })
			if g.output == "json" {
				if jerr := json.NewEncoder(g.stdout).Encode(results); jerr != nil && err == nil {
					err = jerr
				}
				return err
			}
			if len(results) > 0 {
				bench.FormatServeTable(g.stdout, results)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&run.Dir, "dir", "", "dataset and data directory")
	f.StringVar(&run.Store, "store", "", "online store: pebble (default) or a redis:// / redis-cluster:// URL")
	f.StringSliceVar(&run.Shapes, "shapes", nil, "request shapes ENTITIESxFEATURES (features 10 or 50), or predict:ENTITIESx50 for /v1/predict with an MLP over the 50 features (default 1x10,100x10,100x50)")
	f.IntSliceVar(&run.Conns, "conns", nil, "connection counts (default 1,8,32)")
	f.DurationVar(&run.Duration, "duration", 0, "length of each measured run (default 10s)")
	f.StringVar(&run.URL, "url", "", "measure a running fstore serve at this base URL (serving DIR/fstore-data, loaded by an earlier run) instead of one in this process")
	f.DurationVar(&run.Warmup, "warmup", 0, "unmeasured load before each run, e.g. to fill the row cache (default 1s)")
	f.IntVar(&run.Entities, "entities", 0, "entities in the dataset (default 100000)")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run (server and load generator) to this file")
	f.StringVar(&traceFile, "trace", "", "write an execution trace of the whole run to this file (go tool trace)")
	f.IntVar(&run.Batching.Instances, "model-instances", 0, "batches each model version runs at once, as fstore serve's flag (default: one per core)")
	f.BoolVar(&run.Control, "control", false, "after each run, replay its load against a null server burning the same CPU per request and answering as many bytes: the floor this machine puts under the tail")
	cmd.MarkFlagRequired("dir")
	return cmd
}

func newBenchStallsCmd(g *globals) *cobra.Command {
	var d time.Duration
	cmd := &cobra.Command{
		Use:   "stalls [--duration 10s]",
		Short: "Measure how often this machine takes a running thread off its core (the floor under any tail latency)",
		Long: `stalls runs one thread per core reading the clock in a tight loop and
counts the gaps between readings: time a thread wanted to run and did not,
because the kernel or the hypervisor ran something else. A request on a
core that stalls for a millisecond waits that millisecond, so gaps of a
millisecond several times a second put a floor under every p99 measured
on the machine. Run it on an otherwise idle machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := bench.MeasureStalls(cmd.Context(), d)
			if g.output == "json" {
				return json.NewEncoder(g.stdout).Encode(s)
			}
			_, err := fmt.Fprintln(g.stdout, s)
			return err
		},
	}
	cmd.Flags().DurationVar(&d, "duration", 10*time.Second, "how long to measure")
	return cmd
}

// startCPUProfile starts a CPU profile into path, when path is set, and
// returns the function that stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
