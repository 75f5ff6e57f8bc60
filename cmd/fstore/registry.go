package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// callTimeout bounds one registry call, so that an unreachable server gets
// an error instead of a hang.
const callTimeout = 30 * time.Second

// loadDefinitions reads definitions files and validates them locally, with
// expressions type-checked against the sources' columns, so that errors name
// files and lines even when the command is sent to a server.
func loadDefinitions(paths []string) (*fstorev1.Definitions, error) {
	if len(paths) == 0 {
		return nil, usageError{fmt.Errorf("no definitions given: use -f FILE or -f DIR")}
	}
	p, origins, err := registry.LoadFiles(paths)
	if err != nil {
		return nil, err
	}
	if _, err := registry.Compile(p, origins, compute.NewChecker()); err != nil {
		return nil, err
	}
	return p, nil
}

func newApplyCmd(g *globals) *cobra.Command {
	var files []string
	var allowBreaking bool
	var description string
	cmd := &cobra.Command{
		Use:   "apply -f PATH...",
		Short: "Validate definitions and store them as a new registry version",
		Long: `apply validates definitions files (textproto of fstore.v1.Definitions) or
directories of them, and, when they differ from the latest registry version,
stores them atomically as a new immutable version. Breaking changes (a key
or type change, a served feature removed, ...) are refused unless
--allow-breaking is given. Applying identical definitions writes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadDefinitions(files)
			if err != nil {
				return err
			}
			return g.withRegistry(cmd.Context(), func(ctx context.Context, c fstorev1.RegistryServiceClient) error {
				resp, err := c.Apply(ctx, &fstorev1.ApplyRequest{Definitions: p, AllowBreaking: allowBreaking, Description: description})
				if err != nil {
					return err
				}
				return g.print(resp, func() {
					printChanges(g.stdout, resp.GetChanges())
					v := resp.GetVersion()
					if resp.GetApplied() {
						fmt.Fprintf(g.stdout, "applied registry version %d (%d objects, %s)\n", v.GetVersion(), v.GetObjectCount(), shortHash(v.GetContentHash()))
					} else {
						fmt.Fprintf(g.stdout, "no changes: registry is at version %d\n", v.GetVersion())
					}
				})
			})
		},
	}
	cmd.Flags().StringSliceVarP(&files, "file", "f", nil, "definitions file or directory (repeatable)")
	cmd.Flags().BoolVar(&allowBreaking, "allow-breaking", false, "apply even when changes are breaking")
	cmd.Flags().StringVar(&description, "description", "", "text recorded with the version")
	return cmd
}

func newPlanCmd(g *globals) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "plan -f PATH...",
		Short: "Show what apply would change, and which changes are breaking",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadDefinitions(files)
			if err != nil {
				return err
			}
			return g.withRegistry(cmd.Context(), func(ctx context.Context, c fstorev1.RegistryServiceClient) error {
				resp, err := c.Plan(ctx, &fstorev1.PlanRequest{Definitions: p})
				if err != nil {
					return err
				}
				return g.print(resp, func() { printPlan(g.stdout, resp) })
			})
		},
	}
	cmd.Flags().StringSliceVarP(&files, "file", "f", nil, "definitions file or directory (repeatable)")
	return cmd
}

// parseKindArg parses a KIND argument.
func parseKindArg(s string) (def.Kind, error) {
	k, ok := def.ParseKind(s)
	if !ok {
		return "", usageError{fmt.Errorf("unknown kind %q: want one of %s", s, kindNames())}
	}
	return k, nil
}

func newListCmd(g *globals) *cobra.Command {
	var version uint64
	var url string
	cmd := &cobra.Command{
		Use:   "list [KIND | views]",
		Short: "List registered objects (all kinds, or one: entities, sources, feature_views, ...); `list views` shows online freshness",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == "views" {
				return g.listViews(cmd.Context(), url)
			}
			var kind def.Kind
			if len(args) == 1 {
				var err error
				if kind, err = parseKindArg(args[0]); err != nil {
					return err
				}
			}
			return g.withRegistry(cmd.Context(), func(ctx context.Context, c fstorev1.RegistryServiceClient) error {
				resp, err := c.List(ctx, &fstorev1.ListRequest{Kind: string(kind), Version: version})
				if err != nil {
					return err
				}
				return g.print(resp, func() {
					if resp.GetVersion() == 0 {
						fmt.Fprintln(g.stdout, "the registry is empty: apply definitions with 'fstore apply -f PATH'")
						return
					}
					printObjects(g.stdout, resp.GetObjects())
				})
			})
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "registry version to read (default: the latest)")
	storeFlag(cmd, &url)
	return cmd
}

func kindNames() string {
	s := ""
	for i, k := range def.Kinds {
		if i > 0 {
			s += ", "
		}
		s += k.Plural()
	}
	return s
}

func newDescribeCmd(g *globals) *cobra.Command {
	var version uint64
	cmd := &cobra.Command{
		Use:   "describe KIND NAME",
		Short: "Show one registered object and its version metadata",
		Args:  exactArgs(2, "KIND NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := parseKindArg(args[0])
			if err != nil {
				return err
			}
			return g.withRegistry(cmd.Context(), func(ctx context.Context, c fstorev1.RegistryServiceClient) error {
				resp, err := c.Get(ctx, &fstorev1.GetRequest{Kind: string(k), Name: args[1], Version: version})
				if err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(g.stdout, resp)
				}
				return printObject(g.stdout, resp.GetVersion(), resp.GetObject())
			})
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "registry version to read (default: the latest)")
	return cmd
}

func newHistoryCmd(g *globals) *cobra.Command {
	var limit uint32
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List registry versions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withRegistry(cmd.Context(), func(ctx context.Context, c fstorev1.RegistryServiceClient) error {
				resp, err := c.History(ctx, &fstorev1.HistoryRequest{Limit: limit})
				if err != nil {
					return err
				}
				return g.print(resp, func() { printHistory(g.stdout, resp.GetVersions()) })
			})
		},
	}
	cmd.Flags().Uint32Var(&limit, "limit", 0, "show at most this many versions (default: all)")
	return cmd
}
