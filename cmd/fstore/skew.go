package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/internal/atomicfile"
	"github.com/fstore/fstore/skewcheck/drift"
	"github.com/fstore/fstore/skewcheck/report"
)

// newSkewCmd groups the skew, drift and parity commands: status and report
// read a running server's monitor; replay recomputes logged rows offline.
func newSkewCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "skew",
		Short: "Skew and drift: monitor state, HTML report, exact parity replay of logged rows",
	}
	c.AddCommand(newSkewStatusCmd(g), newSkewReportCmd(g), newSkewReplayCmd(g))
	return c
}

// skewSource says where a skew report comes from: a running server's
// GET /v1/skew (--url, or the HTTP address the server serving --data-dir
// recorded), or a saved report (--from).
type skewSource struct {
	url, from string
	timeout   time.Duration
}

func (s *skewSource) flags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&s.url, "url", "", "HTTP address of a running fstore serve (default: the server serving --data-dir)")
	f.StringVar(&s.from, "from", "", "read a saved report (the JSON of GET /v1/skew or skew status -o json) instead of asking a server")
	f.DurationVar(&s.timeout, "timeout", 10*time.Second, "how long to wait for the server")
}

// load fetches and decodes the report.
func (s *skewSource) load(ctx context.Context, g *globals) (drift.Report, []byte, error) {
	var b []byte
	if s.from != "" {
		if s.url != "" {
			return drift.Report{}, nil, usageError{errorf("--from and --url: give one")}
		}
		var err error
		if b, err = os.ReadFile(s.from); err != nil {
			return drift.Report{}, nil, errorf("cannot read the report: %v", err)
		}
	} else {
		base := s.url
		if base == "" {
			addr, err := featurestore.AdvertisedHTTP(g.dataDir)
			if err != nil {
				return drift.Report{}, nil, err
			}
			if addr == "" {
				return drift.Report{}, nil, errorf("no fstore serve is running on %s (no address recorded there); start one, or give --url http://HOST:PORT or --from FILE", g.dataDir)
			}
			base = addr
		}
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		url := strings.TrimSuffix(base, "/") + "/v1/skew"
		c, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(c, http.MethodGet, url, nil)
		if err != nil {
			return drift.Report{}, nil, usageError{errorf("--url %q: %v", s.url, err)}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return drift.Report{}, nil, errorf("cannot reach the server: %v", err)
		}
		defer resp.Body.Close()
		b, err = io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		if err != nil {
			return drift.Report{}, nil, errorf("cannot read %s: %v", url, err)
		}
		if resp.StatusCode != http.StatusOK {
			return drift.Report{}, nil, errorf("%s answered %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
		}
	}
	rep, err := drift.DecodeReport(b)
	if err != nil {
		where := s.from
		if where == "" {
			where = "the server's /v1/skew"
		}
		return drift.Report{}, nil, errorf("%s: %v", where, err)
	}
	return rep, b, nil
}

func newSkewStatusCmd(g *globals) *cobra.Command {
	var src skewSource
	var failOn string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the skew and drift state of every monitored feature service and model version",
		Long: `status asks a running fstore serve for its drift monitors' report
(GET /v1/skew) and prints, per feature service and model version, its
state and, per feature, the last completed window's samples, distances
and state. States: ok, warn, alert, insufficient_data (too few samples in
the window: never a pass).

-o json prints the report as the server sent it. --fail-on warn|alert
exits with status 1 when any subject is at or above that state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var fail drift.State
			switch failOn {
			case "":
			case "warn":
				fail = drift.Warn
			case "alert":
				fail = drift.Alert
			default:
				return usageError{errorf("--fail-on %q: want warn or alert", failOn)}
			}
			rep, raw, err := src.load(cmd.Context(), g)
			if err != nil {
				return err
			}
			if g.output == "json" {
				if _, err := g.stdout.Write(raw); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout)
			} else {
				printSkew(g.stdout, rep)
			}
			if failOn != "" && rep.State >= fail && rep.State != drift.InsufficientData {
				return errorf("skew state %s (--fail-on %s)", rep.State, failOn)
			}
			return nil
		},
	}
	src.flags(c)
	c.Flags().StringVar(&failOn, "fail-on", "", "exit 1 when any subject is at this state or worse: warn or alert")
	return c
}

// printSkew writes a report as tables: subjects, then their features.
func printSkew(w io.Writer, rep drift.Report) {
	fmt.Fprintf(w, "skew report at %s, window %s: %s\n", rep.GeneratedAt.Format(time.RFC3339), time.Duration(rep.WindowSeconds*float64(time.Second)), rep.State)
	if len(rep.Subjects) == 0 {
		fmt.Fprintln(w, "no monitored feature services or model versions (set monitoring { enabled: true } on a feature service)")
		return
	}
	for _, s := range rep.Subjects {
		fmt.Fprintf(w, "\n%s %s: %s (baseline: %s)\n", strings.ReplaceAll(s.Kind, "_", " "), s.Name, s.State, s.BaselineSource)
		closed := false
		for _, f := range s.Features {
			closed = closed || f.Window.Total > 0
		}
		if !closed {
			fmt.Fprintf(w, "no window has closed yet: the features' columns are the current window's, so far (the state above counts closed windows only)\n")
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FEATURE\tSTATE\tSAMPLES\tPSI\tJS\tKS\tL∞\tNULL Δ\tSINCE START\tWHY")
		for _, f := range s.Features {
			win := f.Window
			if win.Total == 0 {
				win = f.Current // no window has closed yet: show the one in progress
			}
			psi, js, ks, linf := "-", "-", "-", "-"
			if d := win.Distances; d != nil {
				psi, js = fmt.Sprintf("%.4f", d.PSI), fmt.Sprintf("%.4f", d.JS)
				if d.KS != nil {
					ks = fmt.Sprintf("%.4f", *d.KS)
				}
				if d.LInf != nil {
					linf = fmt.Sprintf("%.4f", *d.LInf)
				}
			}
			why := strings.Join(win.Reasons, "; ")
			if why == "" {
				why = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%+.4f\t%s (%d)\t%s\n", f.Name, win.State, win.Samples, psi, js, ks, linf, win.NullRateDelta, f.SinceStart.State, f.SinceStart.Samples, why)
		}
		tw.Flush()
	}
}

func newSkewReportCmd(g *globals) *cobra.Command {
	var src skewSource
	var out string
	c := &cobra.Command{
		Use:   "report --html FILE",
		Short: "Write the skew and drift report as an HTML page with plots",
		Long: `report writes one self-contained HTML page (no network needed to view it):
per feature service and model version the state, and per feature the
baseline and served histograms overlaid, the distances against their
thresholds and the state. The report comes from a running fstore serve
(GET /v1/skew) or from a saved one (--from).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errorf("--html: missing; name the HTML file to write")}
			}
			rep, _, err := src.load(cmd.Context(), g)
			if err != nil {
				return err
			}
			var sb strings.Builder
			if err := report.WriteHTML(&sb, rep, nil); err != nil {
				return err
			}
			if err := atomicfile.Write(out, []byte(sb.String()), 0o644); err != nil {
				return errorf("cannot write %s: %v", out, err)
			}
			g.note("wrote %s (%d subjects, state %s)", out, len(rep.Subjects), rep.State)
			return nil
		},
	}
	src.flags(c)
	c.Flags().StringVar(&out, "html", "", "HTML file to write")
	return c
}
