package main

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/serve"
)

func newServeCmd(g *globals) *cobra.Command {
	var cfg serve.Config
	var logFormat, storeURL, asOf string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve features over HTTP (Feast's JSON API) and gRPC, and the registry API",
		Long: `serve opens the data directory and serves until interrupted (SIGINT or
SIGTERM), then drains in-flight requests and exits.

  HTTP  POST /get-online-features   features for entities (Feast's request and
                                    response JSON)
        POST /push                  events into the online state (Feast's shape)
        POST /v1/predict            features fetched for entities, then the model
        POST /v2/models/NAME[/versions/V]/infer   Open Inference Protocol
        GET  /v1/skew               skew and drift of served features and
                                    predictions against their baselines
        GET  /metrics               Prometheus metrics
        GET  /healthz, GET /readyz  liveness, readiness
        the REST mapping of the registry API:
        POST /v1/registry:apply, POST /v1/registry:plan,
        GET /v1/registry[/KIND[/NAME]], GET /v1/registry:history
  gRPC  fstore.v1.ServingService (GetOnlineFeatures, Push),
        fstore.v1.RegistryService, grpc.health.v1.Health, server reflection

Features are read from the online store given by --store (default: the
data directory's embedded Pebble store). A new registry version (fstore
apply while serving) is compiled and swapped in atomically: requests in
flight finish on the version they started with.

Feature services with logging { sample_rate destination } log sampled
served rows (whole entities) to Parquet under the destination (default
--feature-log-dir, DATA_DIR/feature_logs); services with monitoring
{ enabled: true } are compared with their baseline continuously (see
fstore skew status). Neither ever delays or fails a request.

While it runs, other fstore commands on the same data directory are sent to
it, so an apply is picked up without a restart.

Limits (per request): --max-entities (10000), --max-features (1000),
--request-timeout (1s), --max-body-size (4 MiB). Requests over a limit get
400 (413 for the body size).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Batching.Validate(); err != nil {
				return usageError{err}
			}
			var h slog.Handler
			opts := &slog.HandlerOptions{Level: slog.LevelInfo}
			if g.quiet {
				opts.Level = slog.LevelWarn // before the handler copies opts
			}
			switch logFormat {
			case "json":
				h = slog.NewJSONHandler(g.stderr, opts)
			case "text":
				h = slog.NewTextHandler(g.stderr, opts)
			default:
				return usageError{errorf("--log-format %q: want text or json", logFormat)}
			}
			cfg.Logger = slog.New(h)
			st, err := featurestore.Open(g.dataDir, nil)
			if err != nil {
				return err
			}
			if asOf != "" {
				us, err := featurestore.ParseTime(asOf)
				if err != nil {
					return joinErr(usageError{errorf("--as-of: %v", err)}, st.Close())
				}
				at := time.UnixMicro(us)
				cfg.Now = func() time.Time { return at }
			}
			cfg.Store = st
			if storeURL != "" && storeURL != "pebble" {
				online, err := st.OpenOnline(storeURL, featurestore.StoreTimeouts{})
				if err != nil {
					return joinErr(err, st.Close())
				}
				defer online.Close()
				cfg.Online = online
			}
			runErr := serve.Run(cmd.Context(), cfg)
			return joinErr(runErr, st.Close())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.HTTPAddr, "http", ":6566", "HTTP listen address")
	f.StringVar(&cfg.GRPCAddr, "grpc", ":6570", "gRPC listen address")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 0, "how long to drain in-flight requests on shutdown (default 10s)")
	f.IntVar(&cfg.MaxRequestBodySize, "max-body-size", 0, "largest HTTP request body in bytes (default 4 MiB)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.IntVar(&cfg.Limits.MaxEntities, "max-entities", 0, "most entities per feature request, events per push (default 10000)")
	f.IntVar(&cfg.Limits.MaxFeatures, "max-features", 0, "most features per request (default 1000)")
	f.DurationVar(&cfg.Limits.RequestTimeout, "request-timeout", 0, "bound on one request's work, store calls included (default 1s)")
	f.DurationVar(&cfg.Limits.MaxFuture, "max-future", 0, "refuse pushed events later than now + this (default 1h; negative: no bound)")
	f.IntVar(&cfg.Batching.MaxBatchSize, "max-batch-size", 0, "most rows one coalesced model batch holds (default 256)")
	f.DurationVar(&cfg.Batching.MaxQueueDelay, "max-queue-delay", 0, "how long a model batch waits for more requests (default 0: only what is queued)")
	f.IntVar(&cfg.Batching.MaxQueueSize, "max-queue-size", 0, "most requests waiting per model version; beyond it 503 (default 1024)")
	f.DurationVar(&cfg.Batching.Timeout, "queue-timeout", 0, "longest wait in a model's queue before a 504 (default 1s)")
	f.IntVar(&cfg.Batching.Instances, "model-instances", 0, "batches each model version runs at once (default: GOMAXPROCS, one per core)")
	f.StringVar(&asOf, "as-of", "", "serve as if the time were this RFC 3339 time (replays and demos; default: the wall clock)")
	f.StringVar(&cfg.Skew.LogDir, "feature-log-dir", "", "where services whose logging names no destination log (default DATA_DIR/feature_logs)")
	f.IntVar(&cfg.Skew.Log.QueueRows, "feature-log-queue", 0, "most logged rows waiting to be written; beyond it rows are dropped and counted (default 65536)")
	f.Int64Var(&cfg.Skew.Log.MaxFileBytes, "feature-log-file-size", 0, "feature log files are rotated at this size in bytes (default 64 MiB)")
	f.DurationVar(&cfg.Skew.Log.MaxFileAge, "feature-log-file-age", 0, "feature log files are published at most this long after their first row (default 1m)")
	f.Int64Var(&cfg.Skew.WindowRows, "skew-window-rows", 0, "about how many rows per window and feature service the drift monitors observe; beyond it they sample (default 20000; -1: every row)")
	f.BoolVar(&cfg.Skew.Disabled, "no-skew", false, "turn feature logging and drift monitoring off whatever the definitions say")
	storeFlag(cmd, &storeURL)
	return cmd
}
