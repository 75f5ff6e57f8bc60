package backfill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/fstore/fstore/internal/ddtest"
)

// TestDataDriven runs testdata/pit: readable point-in-time cases. Commands:
//
//	view [ttl=D] [window=D hop=D]
//	    defines view v over source s: feature x, and with window, SUM and
//	    COUNT of x ("sum_x", "n")
//	source [file=N]
//	    rows "k ts created x" of one source file (created and x may be
//	    "-" for null); several files are read in file-name order
//	spine
//	    rows "k t" ("-" for null); prints the training set
//
// Times are h:mm[:ss] after the epoch ("-" prefix: before it).
//
// Every file runs through both joins: window-less views through the spill
// path and the broadcast join in turn (windowed views always spill).
func TestDataDriven(t *testing.T) {
	for _, plan := range []joinPlan{planSpill, planBroadcast} {
		t.Run(map[joinPlan]string{planSpill: "spill", planBroadcast: "broadcast"}[plan], func(t *testing.T) { dataDriven(t, plan) })
	}
}

func dataDriven(t *testing.T, plan joinPlan) {
	datadriven.Walk(t, "testdata/pit", func(t *testing.T, path string) {
		var dir, viewArgs string
		files := 0
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "view":
				dir = t.TempDir()
				files = 0
				os.MkdirAll(filepath.Join(dir, "src"), 0o755)
				viewArgs = ""
				var ttl, window, hop string
				if d.HasArg("ttl") {
					d.ScanArgs(t, "ttl", &ttl)
					viewArgs += fmt.Sprintf(" ttl { seconds: %d }", clock(t, ttl)/1_000_000)
				}
				viewArgs += ` features { name: "x" type: DOUBLE }`
				if d.HasArg("window") {
					d.ScanArgs(t, "window", &window)
					d.ScanArgs(t, "hop", &hop)
					w, h := clock(t, window)/1_000_000, clock(t, hop)/1_000_000
					viewArgs += fmt.Sprintf(` aggregations { name: "sum_x" function: SUM expr: "x" window { seconds: %d } hop { seconds: %d } }`, w, h)
					viewArgs += fmt.Sprintf(` aggregations { name: "n" function: COUNT window { seconds: %d } hop { seconds: %d } }`, w, h)
				}
				return "ok\n"
			case "source":
				var rows []rowMicros
				for _, line := range lines(d.Input) {
					f := strings.Fields(line)
					r := rowMicros{K: ptr(atoi(t, f[0])), TS: ptr(clock(t, f[1]))}
					if f[2] != "-" {
						r.Created = ptr(clock(t, f[2]))
					}
					if f[3] != "-" {
						x, _ := strconv.ParseFloat(f[3], 64)
						r.X = &x
					}
					rows = append(rows, r)
				}
				writeFile(t, filepath.Join(dir, "src", fmt.Sprintf("part-%d.parquet", files)), rows)
				files++
				return fmt.Sprintf("%d rows\n", len(rows))
			case "spine":
				var rows []spineRow
				for i, line := range lines(d.Input) {
					f := strings.Fields(line)
					r := spineRow{Label: int64(i)}
					if f[0] != "-" {
						r.K = ptr(atoi(t, f[0]))
					}
					if f[1] != "-" {
						r.T = ptr(clock(t, f[1]))
					}
					rows = append(rows, r)
				}
				spine := filepath.Join(dir, "spine.parquet")
				writeFile(t, spine, rows)
				defs := `entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "s" parquet { path: "src" } timestamp_column: "ts" created_timestamp_column: "created" }
feature_views { name: "v" entities: "e" source: "s"` + viewArgs + " }\n"
				os.WriteFile(filepath.Join(dir, "defs.textproto"), []byte(defs), 0o644)
				out := filepath.Join(dir, "out.parquet")
				if _, err := Run(context.Background(), Config{Snapshot: snapshotOf(t, filepath.Join(dir, "defs.textproto")), Features: []string{"v:*"}, Spine: spine, Out: out, joinPlan: plan}); err != nil {
					return "error: " + err.Error() + "\n"
				}
				names, got := readTable(t, out)
				var b strings.Builder
				b.WriteString("k t " + strings.Join(names[4:], " ") + "\n")
				for i, r := range got {
					fmt.Fprintf(&b, "%s %s", cell(r[0]), timeCell(rows[i].T))
					for _, v := range r[4:] {
						b.WriteString(" " + cell(v))
					}
					b.WriteByte('\n')
				}
				return b.String()
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

var (
	lines = ddtest.Lines
	atoi  = ddtest.Atoi
	clock = ddtest.Clock
	cell  = ddtest.Cell
)

func timeCell(p *int64) string {
	if p == nil {
		return "null"
	}
	return ddtest.TimeCell(*p)
}
