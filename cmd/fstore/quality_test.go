package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fstore/fstore/examples/rides"
)

// TestMaterializeQualityGateFlag: a view whose history breaks its expect
// fails materialize with the view, feature, rule and rows named, writes
// nothing (list shows it never materialised); --allow-violations writes it
// and warns.
func TestMaterializeQualityGateFlag(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	defs := writeExample(t, tmp, func(s string) string {
		return strings.Replace(s, `features { name: "conv_rate" type: DOUBLE expr: "conv_rate" }`,
			`features { name: "conv_rate" type: DOUBLE expr: "conv_rate" expect { max: 0.5 } }`, 1)
	})
	mustRun(t, data, "apply", "-f", defs)
	end := "--end=" + rides.DefaultEnd.Format(time.RFC3339)
	r := fstore(t, data, "materialize", end, "--views", "driver_hourly")
	re := regexp.MustCompile(`materialize "driver_hourly": data-quality gate of view "driver_hourly" failed: conv_rate: [0-9.]+ is above max 0.5 \(\d+ of \d+ rows; first: [^ ]+\.parquet row \d+`)
	if r.code != 1 || !re.MatchString(r.stderr) {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := mustRun(t, data, "list", "views"); !strings.Contains(r.stdout, "driver_hourly  yes     never") {
		t.Fatalf("a failed gate materialised the view:\n%s", r.stdout)
	}
	r = mustRun(t, data, "materialize", end, "--views", "driver_hourly", "--allow-violations")
	if !strings.Contains(r.stderr, `warning: data-quality gate broken (allowed): view "driver_hourly": conv_rate: `) {
		t.Fatalf("no warning:\n%s", r.stderr)
	}
	if r := mustRun(t, data, "list", "views"); !strings.Contains(r.stdout, "driver_hourly  yes     2026-01-08T00:00:00Z") {
		t.Fatalf("--allow-violations did not materialise:\n%s", r.stdout)
	}
}
