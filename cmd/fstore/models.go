package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/compute/model"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
	"github.com/fstore/fstore/serve"
	"github.com/fstore/fstore/skewcheck/profile"
)

// modelClient returns a model API client: the data directory's, or the
// running server's that holds it (which then loads new versions at once),
// or --server's.
func (g *globals) modelClient() (fstorev1.ModelServiceClient, func() error, error) {
	st, conn, err := g.localOrServer()
	if err != nil {
		return nil, nil, err
	}
	if st != nil {
		return serve.NewLocalModelClient(st), st.Close, nil
	}
	return fstorev1.NewModelServiceClient(conn), conn.Close, nil
}

func (g *globals) withModels(ctx context.Context, f func(context.Context, fstorev1.ModelServiceClient) error) error {
	return withClient(ctx, g.modelClient, f)
}

func newTrainCmd(g *globals) *cobra.Command {
	var (
		dataset, label, name, arch string
		features                   []string
		cfg                        model.TrainConfig
	)
	cmd := &cobra.Command{
		Use:   "train --dataset FILE --label COLUMN --model NAME",
		Short: "Train a model on a training set and register it as the model's next version",
		Long: `train fits a network with gorgonia on a training set built by fstore backfill,
reports held-out metrics (AUC, log-loss and accuracy for a 0/1 label; RMSE
and MAE otherwise), and registers the result as the next immutable version of
--model, with its lineage: the training set and its metadata, the feature
service's registry version, the input features in tensor order, the metrics
and the seed, and two baselines for drift monitoring: a copy of the training
set's profile (DATASET.profile.json, when backfill wrote one) and a profile
of the model's predictions on the held-out rows. The input normalisation learnt here is part of the artifact,
so serving applies exactly the training-time transform.

The model must be defined (a models block naming its feature service).
Without --features the inputs are the feature service's features; a null
input is the training mean, online as offline.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataset == "" || label == "" || name == "" {
				return usageError{fmt.Errorf("want --dataset FILE, --label COLUMN and --model NAME")}
			}
			a, err := model.ParseArch(arch)
			if err != nil {
				return usageError{fmt.Errorf("--arch: %w", err)}
			}
			cfg.Arch = a
			cols, err := g.trainingColumns(cmd.Context(), name, features)
			if err != nil {
				return err
			}
			start := time.Now()
			ds, err := model.ReadDataset(dataset, label, cols)
			if err != nil {
				return err
			}
			if isTerminal(g.stderr) && !g.quiet {
				cfg.Progress = func(epoch, epochs int, loss float64) {
					fmt.Fprintf(g.stderr, "\r\033[Ktrain %s: epoch %d/%d, loss %.5f", name, epoch, epochs, loss)
				}
			}
			var holdout []float32
			cfg.HoldoutPredictions = func(_ []int, p []float32) { holdout = p }
			m, metrics, err := model.Train(cmd.Context(), ds, cfg)
			if cfg.Progress != nil {
				fmt.Fprint(g.stderr, "\r\033[K")
			}
			if err != nil {
				return err
			}
			artifact, err := m.MarshalBinary()
			if err != nil {
				return err
			}
			abs, _ := filepath.Abs(dataset)
			featBase, err := datasetBaseline(dataset)
			if err != nil {
				return err
			}
			predBase, err := profile.Predictions(dataset, holdout)
			if err != nil {
				return err
			}
			mv, err := g.registerVersion(cmd.Context(), featurestore.ModelRegistration{
				Model:              name,
				Artifact:           artifact,
				TrainingDataset:    abs,
				TrainingLineage:    datasetLineage(dataset, ds.Metadata),
				Metrics:            metrics,
				Seed:               cfg.Seed,
				FeatureBaseline:    featBase,
				PredictionBaseline: predBase,
			})
			if err != nil {
				return err
			}
			return g.print(mv, func() {
				fmt.Fprintf(g.stdout, "trained %s v%d (%s, %s, %d inputs) on %s in %s: %s\n",
					mv.GetModel(), mv.GetVersion(), mv.GetArch(), m.Task, len(mv.GetInputFeatures()),
					rowsText(ds, metrics), time.Since(start).Round(time.Millisecond), metricsText(mv.GetMetrics()))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataset, "dataset", "", "training set: a Parquet file (or directory or glob) from fstore backfill")
	f.StringVar(&label, "label", "", "label column (BOOL, INT64 or DOUBLE)")
	f.StringSliceVar(&features, "features", nil, "input columns (view__feature or view:feature; default: the model's feature service)")
	f.StringVar(&name, "model", "", "model to register the version under (defined in the registry)")
	f.StringVar(&arch, "arch", "logreg", "network: logreg, or mlp:W1,W2,... (hidden widths, ReLU)")
	f.IntVar(&cfg.Epochs, "epochs", 0, "passes over the training split (default 20)")
	f.Int64Var(&cfg.Seed, "seed", 1, "random seed: the same data and seed give the same model")
	f.IntVar(&cfg.BatchSize, "batch-size", 0, "mini-batch size (default 256)")
	f.Float64Var(&cfg.LearningRate, "learning-rate", 0, "Adam step size (default 0.01)")
	f.Float64Var(&cfg.Holdout, "holdout", 0, "fraction of rows held out for the metrics (default 0.2)")
	return cmd
}

// datasetBaseline returns the bytes of a training set's baseline profile
// (written by backfill beside it), checked; nil when there is none (a
// directory or glob, or a file built with --no-profile).
func datasetBaseline(dataset string) ([]byte, error) {
	path := profile.DatasetProfilePath(dataset)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := profile.Decode(b); err != nil {
		var fe *profile.FieldError
		if errors.As(err, &fe) {
			fe.File = path
		}
		return nil, err
	}
	return b, nil
}

// registerVersion records a model version with its baselines (checked by
// decoding: skewcheck/profile.Validate): through the data directory's
// store when this process can open it, otherwise through the server's
// model API.
func (g *globals) registerVersion(ctx context.Context, reg featurestore.ModelRegistration) (*fstorev1.ModelVersion, error) {
	st, conn, err := g.localOrServer()
	if err != nil {
		return nil, err
	}
	if st != nil {
		defer st.Close()
		reg.CheckBaseline = profile.Validate
		return st.RegisterModel(reg)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := fstorev1.NewModelServiceClient(conn).RegisterModelVersion(ctx, &fstorev1.RegisterModelVersionRequest{
		Model:           reg.Model,
		Artifact:        reg.Artifact,
		TrainingDataset: reg.TrainingDataset,
		TrainingLineage: reg.TrainingLineage,
		Metrics:         reg.Metrics,
		Seed:            reg.Seed,

		FeatureBaseline:    reg.FeatureBaseline,
		PredictionBaseline: reg.PredictionBaseline,
	})
	return resp.GetVersion(), err
}

// trainingColumns returns the training-set columns to train on: --features
// (as columns), or the model's feature service's features.
func (g *globals) trainingColumns(ctx context.Context, name string, features []string) ([]string, error) {
	if len(features) > 0 {
		cols := make([]string, len(features))
		for i, f := range features {
			cols[i] = f
			if strings.Contains(f, ":") {
				r, err := def.ParseFeatureRef(f)
				if err != nil || r.Wildcard() {
					return nil, usageError{fmt.Errorf("--features %q: want view__feature or view:feature", f)}
				}
				cols[i] = r.Column()
			}
		}
		return cols, nil
	}
	snap, err := g.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	md := snap.Index.Model(name)
	if md == nil {
		return nil, fmt.Errorf("model %q is not defined%s: add `models { name: %q feature_service: \"...\" }` to the definitions and run fstore apply",
			name, def.HintFor(name, snap.Index.Names(def.KindModel)), name)
	}
	refs, err := snap.Index.ServiceFeatures(md.FeatureService)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	cols := make([]string, len(refs))
	for i, r := range refs {
		cols[i] = r.Column()
	}
	return cols, nil
}

// datasetLineage is what a model version records of its training set: the
// file's fstore metadata (backfill's lineage) and its size and time.
func datasetLineage(path string, meta map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range meta {
		if strings.HasPrefix(k, "fstore.") {
			out[k] = v
		}
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		out["file.size"] = strconv.FormatInt(st.Size(), 10)
		out["file.mtime"] = st.ModTime().UTC().Format(time.RFC3339Nano)
	}
	return out
}

func rowsText(ds *model.Dataset, m map[string]float64) string {
	s := fmt.Sprintf("%d rows (%d held out)", ds.Rows, int(m["holdout_rows"]))
	if ds.DroppedNullLabels > 0 {
		s += fmt.Sprintf(", %d without a label skipped", ds.DroppedNullLabels)
	}
	return s
}

// metricsText formats the quality metrics, leaving out the row counts.
func metricsText(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasSuffix(k, "_rows") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.4f", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func newModelsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List, describe and register model versions",
	}
	cmd.AddCommand(newModelsListCmd(g), newModelsDescribeCmd(g), newModelsRegisterCmd(g))
	return cmd
}

func newModelsListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list [MODEL]",
		Short: "List the registered versions of every model, or of one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &fstorev1.ListModelVersionsRequest{}
			if len(args) == 1 {
				req.Model = args[0]
			}
			var resp *fstorev1.ListModelVersionsResponse
			err := g.withModels(cmd.Context(), func(ctx context.Context, c fstorev1.ModelServiceClient) error {
				var err error
				resp, err = c.ListModelVersions(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			return g.print(resp, func() { printModelVersions(g.stdout, resp.GetVersions()) })
		},
	}
}

func printModelVersions(w io.Writer, vs []*fstorev1.ModelVersion) {
	if len(vs) == 0 {
		fmt.Fprintln(w, "no model versions registered (fstore train registers one)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tVERSION\tARCH\tINPUTS\tMETRICS\tCREATED")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", v.GetModel(), v.GetVersion(), v.GetArch(), len(v.GetInputFeatures()),
			metricsText(v.GetMetrics()), formatTime(v.GetCreatedAt()))
	}
	tw.Flush()
}

func newModelsDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe MODEL[:VERSION]",
		Short: "Show one model version (default the latest) with its lineage",
		Args:  exactArgs(1, "MODEL[:VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ver, err := parseModelArg(args[0])
			if err != nil {
				return usageError{err}
			}
			var mv *fstorev1.ModelVersion
			err = g.withModels(cmd.Context(), func(ctx context.Context, c fstorev1.ModelServiceClient) error {
				resp, err := c.GetModelVersion(ctx, &fstorev1.GetModelVersionRequest{Model: name, Version: ver})
				mv = resp.GetVersion()
				return err
			})
			if err != nil {
				return err
			}
			return g.print(mv, func() { printModelVersion(g.stdout, mv) })
		},
	}
}

func parseModelArg(s string) (string, uint32, error) {
	name, ver, ok := strings.Cut(s, ":")
	if !ok {
		return name, 0, nil
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(ver, "v"), 10, 32)
	if err != nil || v == 0 {
		return "", 0, fmt.Errorf("%q: want MODEL or MODEL:VERSION with a positive version", s)
	}
	return name, uint32(v), nil
}

func printModelVersion(w io.Writer, mv *fstorev1.ModelVersion) {
	fmt.Fprintf(w, "model:            %s\n", mv.GetModel())
	fmt.Fprintf(w, "version:          %d\n", mv.GetVersion())
	fmt.Fprintf(w, "arch:             %s\n", mv.GetArch())
	fmt.Fprintf(w, "created:          %s\n", formatTime(mv.GetCreatedAt()))
	fmt.Fprintf(w, "artifact:         %s (sha256 %s)\n", mv.GetArtifactPath(), mv.GetArtifactSha256())
	fmt.Fprintf(w, "training set:     %s\n", mv.GetTrainingDataset())
	fmt.Fprintf(w, "feature service:  registry version %d\n", mv.GetFeatureServiceVersion())
	fmt.Fprintf(w, "seed:             %d\n", mv.GetSeed())
	fmt.Fprintf(w, "metrics:          %s\n", metricsText(mv.GetMetrics()))
	fmt.Fprintf(w, "feature baseline: %s\n", orNone(mv.GetFeatureBaselinePath()))
	fmt.Fprintf(w, "prediction baseline: %s\n", orNone(mv.GetPredictionBaselinePath()))
	fmt.Fprintf(w, "inputs (%d, tensor order):\n", len(mv.GetInputFeatures()))
	for i, in := range mv.GetInputFeatures() {
		fmt.Fprintf(w, "  %3d  %s\n", i, in)
	}
	keys := make([]string, 0, len(mv.GetTrainingLineage()))
	for k := range mv.GetTrainingLineage() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		fmt.Fprintln(w, "training lineage:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, mv.GetTrainingLineage()[k])
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func newModelsRegisterCmd(g *globals) *cobra.Command {
	var name, artifact, dataset, featBaseline, predBaseline string
	cmd := &cobra.Command{
		Use:   "register --model NAME --artifact FILE",
		Short: "Register an existing model artifact as the model's next version",
		Long: `register validates an artifact file (compute/model's format: the header,
shapes and checksum) against the registry — the model must be defined and
every input must be a feature of its feature service — and records it as the
model's next immutable version. With --dataset, the training set's baseline
profile (DATASET.profile.json) is stored with it when there is one;
--feature-baseline and --prediction-baseline name profile files instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || artifact == "" {
				return usageError{fmt.Errorf("want --model NAME and --artifact FILE")}
			}
			b, err := os.ReadFile(artifact)
			if err != nil {
				return err
			}
			if _, err := model.Unmarshal(b); err != nil {
				return fmt.Errorf("%s: %w", artifact, err)
			}
			reg := featurestore.ModelRegistration{Model: name, Artifact: b}
			if dataset != "" {
				reg.TrainingDataset, _ = filepath.Abs(dataset)
				reg.TrainingLineage = datasetLineage(dataset, nil)
				if reg.FeatureBaseline, err = datasetBaseline(dataset); err != nil {
					return err
				}
			}
			for _, fb := range []struct {
				path string
				dst  *[]byte
			}{{featBaseline, &reg.FeatureBaseline}, {predBaseline, &reg.PredictionBaseline}} {
				if fb.path == "" {
					continue
				}
				if _, err := profile.Read(fb.path); err != nil {
					return err
				}
				if *fb.dst, err = os.ReadFile(fb.path); err != nil {
					return err
				}
			}
			mv, err := g.registerVersion(cmd.Context(), reg)
			if err != nil {
				return err
			}
			return g.print(mv, func() {
				fmt.Fprintf(g.stdout, "registered %s v%d (%s, %d inputs)\n", mv.GetModel(), mv.GetVersion(), mv.GetArch(), len(mv.GetInputFeatures()))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "model", "", "model to register the version under")
	f.StringVar(&artifact, "artifact", "", "model artifact file")
	f.StringVar(&dataset, "dataset", "", "training set the artifact was trained on (recorded as lineage; its profile stored as the feature baseline)")
	f.StringVar(&featBaseline, "feature-baseline", "", "baseline profile of the training set's features (default: DATASET.profile.json)")
	f.StringVar(&predBaseline, "prediction-baseline", "", "baseline profile of the model's predictions")
	return cmd
}
