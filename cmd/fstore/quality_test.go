package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/skewcheck/profile"
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

// TestBackfillQualityGateFlag: a training set breaking a gate of a
// requested feature is written with a warning naming the column, rule,
// observed value and first rows, recorded in the profile; --strict fails
// with the view, feature and rule named and writes nothing.
func TestBackfillQualityGateFlag(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	defs := writeExample(t, tmp, func(s string) string {
		return strings.Replace(s, `features { name: "conv_rate" type: DOUBLE expr: "conv_rate" }`,
			`features { name: "conv_rate" type: DOUBLE expr: "conv_rate" expect { max: 0.5 } }`, 1)
	})
	mustRun(t, data, "apply", "-f", defs)
	spine := filepath.Join(tmp, "data", "spine.parquet")
	out := filepath.Join(tmp, "train.parquet")
	r := mustRun(t, data, "backfill", "--features", "driver_hourly:conv_rate,driver_hourly:rating", "--spine", spine, "--out", out)
	warn := regexp.MustCompile(`(?m)^warning: data-quality gate broken \(--strict fails on it\): driver_hourly__conv_rate: max 0\.5, observed 0\.[0-9]+: [1-9]\d* rows \(first rows \d+(, \d+)*\)$`)
	if !warn.MatchString(r.stderr) || strings.Count(r.stderr, "warning:") != 1 {
		t.Fatalf("warnings:\n%s", r.stderr)
	}
	p, err := profile.Read(out + ".profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Expectations) != 1 || p.Expectations[0].Feature != "driver_hourly__conv_rate" || p.Expectations[0].Rule != "max" || p.Expectations[0].Violations == 0 {
		t.Fatalf("profile expectations %+v", p.Expectations)
	}
	// Without the gated feature: no warning.
	r = mustRun(t, data, "backfill", "--features", "driver_hourly:rating", "--spine", spine, "--out", out, "--strict")
	if strings.Contains(r.stderr, "warning") {
		t.Fatalf("warning without a gated feature:\n%s", r.stderr)
	}
	strictOut := filepath.Join(tmp, "strict.parquet")
	r = fstore(t, data, "backfill", "--features", "driver_hourly:conv_rate", "--spine", spine, "--out", strictOut, "--strict")
	fail := regexp.MustCompile(`backfill: data-quality gate failed \(strict\) in training-set rows \[0, 50\): view "driver_hourly": conv_rate: 0\.[0-9]+ is above max 0\.5 \(\d+ of 50 rows; first rows \d+(, \d+)*\)`)
	if r.code != 1 || !fail.MatchString(r.stderr) {
		t.Fatalf("--strict: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "strict*")); len(left) > 0 {
		t.Fatalf("--strict failure left %v", left)
	}
}
