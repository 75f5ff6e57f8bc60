// Command fstore is the feature store's single binary: it applies and
// inspects definitions, serves features, and (as the engine grows) builds
// training sets and materialises online state. This package only parses
// flags and wires packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/featurestore"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// globals are the flags every command shares.
type globals struct {
	dataDir string
	server  string
	output  string
	quiet   bool
	stdout  io.Writer
	stderr  io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line; it is main without the process around it,
// so that tests can drive the CLI in process.
// redisQuiet drops go-redis's process-wide log lines (one per failed dial);
// the errors the online store returns say the same, once, with the address.
type redisQuiet struct{}

func (redisQuiet) Printf(context.Context, string, ...any) {}

func init() { goredis.SetLogger(redisQuiet{}) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "fstore: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "fstore: %s\n", errorText(err))
	return exitError
}

// errorText prints a gRPC status error as its message alone: the CLI talks to
// a local registry and a remote server through the same API, and the user
// should see the same text either way.
func errorText(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

type usageError struct{ error }

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "fstore",
		Short: "A feature store and online serving engine in one binary",
		Long: `fstore registers features once, in protobuf, and from that one definition
builds training sets, materialises online state and serves features and
predictions.

Commands read and write the data directory (--data-dir). While 'fstore serve'
runs on it, commands are sent to that server automatically; --server sends
them to any server.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataDir, "data-dir", envOr("FSTORE_DATA_DIR", featurestore.DefaultDataDir), "data directory (env FSTORE_DATA_DIR)")
	pf.StringVar(&g.server, "server", os.Getenv("FSTORE_SERVER"), "gRPC address of a running fstore server to send commands to (env FSTORE_SERVER)")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only results, no progress or notes")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.output != "table" && g.output != "json" {
			return usageError{fmt.Errorf("--output %q: want table or json", g.output)}
		}
		return nil
	}
	root.AddCommand(
		newApplyCmd(g),
		newPlanCmd(g),
		newListCmd(g),
		newDescribeCmd(g),
		newHistoryCmd(g),
		newServeCmd(g),
		newBackfillCmd(g),
		newMaterializeCmd(g),
		newPushCmd(g),
		newReadCmd(g),
		newTrainCmd(g),
		newModelsCmd(g),
		newSkewCmd(g),
		newBenchCmd(g),
		newQuickstartCmd(g),
	)
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// note prints an informational line to stderr unless --quiet.
func (g *globals) note(format string, args ...any) {
	if !g.quiet {
		fmt.Fprintf(g.stderr, format+"\n", args...)
	}
}

// progress prints a progress line to stderr when stderr is a terminal and
// --quiet is not set: logs and pipes get results, not progress.
func (g *globals) progress(format string, args ...any) {
	if !g.quiet && isTerminal(g.stderr) {
		fmt.Fprintf(g.stderr, format+"\n", args...)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// exactArgs is cobra.ExactArgs with a usage error that names the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %s, got %d arguments", names, len(args))}
		}
		return nil
	}
}
