package main

import (
	"github.com/spf13/cobra"
)

// newSkewCmd groups the skew, drift and parity commands: status and report
// read a running server's monitor; replay recomputes logged rows offline.
func newSkewCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "skew",
		Short: "Skew and drift: monitor state, HTML report, exact parity replay of logged rows",
	}
	c.AddCommand(newSkewReplayCmd(g))
	return c
}
