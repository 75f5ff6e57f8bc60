package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/serve"
)

func newServeCmd(g *globals) *cobra.Command {
	var cfg serve.Config
	var logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry API over gRPC and REST (and, as they land, features and predictions)",
		Long: `serve opens the data directory and serves until interrupted (SIGINT or
SIGTERM), then drains in-flight requests and exits.

  gRPC  fstore.v1.RegistryService, grpc.health.v1.Health, server reflection
  HTTP  GET /healthz, GET /readyz, and the REST mapping of the registry API:
        POST /v1/registry:apply, POST /v1/registry:plan,
        GET /v1/registry[/KIND[/NAME]], GET /v1/registry:history

While it runs, other fstore commands on the same data directory are sent to
it, so an apply is picked up without a restart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h slog.Handler
			opts := &slog.HandlerOptions{Level: slog.LevelInfo}
			switch logFormat {
			case "json":
				h = slog.NewJSONHandler(g.stderr, opts)
			case "text":
				h = slog.NewTextHandler(g.stderr, opts)
			default:
				return usageError{errorf("--log-format %q: want text or json", logFormat)}
			}
			if g.quiet {
				opts.Level = slog.LevelWarn
			}
			cfg.Logger = slog.New(h)
			st, err := featurestore.Open(g.dataDir, nil)
			if err != nil {
				return err
			}
			cfg.Store = st
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
	return cmd
}
