package main

import (
	"github.com/spf13/cobra"
)

func newSkewReplayCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "replay",
		Short: "Recompute logged served rows offline and compare them value by value (not built yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errorf("fstore skew replay: not built yet")
		},
	}
}
