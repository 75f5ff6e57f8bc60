package backfill

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fstore/fstore/examples/rides"
)

// TestBadInputGetsAClearErrorAndNoOutput: every kind of bad input fails
// with an error naming the problem, and no output file appears.
func TestBadInputGetsAClearErrorAndNoOutput(t *testing.T) {
	dir := t.TempDir()
	if _, err := rides.Write(dir, rides.Config{Drivers: 10, Riders: 10, Days: 2, SpineRows: 50}); err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, dir)
	data := filepath.Join(dir, "data")
	writeSpine := func(name string, rows []spineRow) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, rows)
		return p
	}
	noKeys := writeSpine("nokeys.parquet", []spineRow{{T: ptr(int64(1)), Label: 1}})
	corrupt := filepath.Join(dir, "corrupt.parquet")
	b, _ := os.ReadFile(filepath.Join(data, "spine.parquet"))
	os.WriteFile(corrupt, b[:len(b)/2], 0o644)
	garbage := filepath.Join(dir, "garbage.parquet")
	os.WriteFile(garbage, []byte("definitely not parquet"), 0o644)
	type spineWrongType struct {
		DriverID string `parquet:"driver_id"`
		T        int64  `parquet:"event_timestamp,timestamp(microsecond)"`
	}
	wrongType := filepath.Join(dir, "wrongtype.parquet")
	writeFile(t, wrongType, []spineWrongType{{"x", 1}})

	for _, tc := range []struct {
		name string
		cfg  Config
		is   error
		want string
	}{
		{"unknown feature", Config{Features: []string{"driver_hourly:conv_rat"}}, ErrConfig, `view "driver_hourly" has no feature "conv_rat" (did you mean "conv_rate"?)`},
		{"unknown view", Config{Features: []string{"driver_hour:*"}}, ErrConfig, `unknown feature view "driver_hour"`},
		{"unknown service", Config{Service: "trip_complet"}, ErrConfig, `unknown feature service "trip_complet" (did you mean "trip_completion"?)`},
		{"spine without join keys", Config{Features: []string{"driver_hourly:*"}, Spine: noKeys}, ErrInput, `has no column "driver_id"`},
		{"spine key of the wrong type", Config{Features: []string{"driver_hourly:*"}, Spine: wrongType}, ErrInput, `column "driver_id" is STRING, want INT64`},
		{"truncated spine", Config{Features: []string{"driver_hourly:*"}, Spine: corrupt}, ErrInput, "is not a readable Parquet file"},
		{"garbage spine", Config{Features: []string{"driver_hourly:*"}, Spine: garbage}, ErrInput, "is not a readable Parquet file"},
		{"missing spine", Config{Features: []string{"driver_hourly:*"}, Spine: filepath.Join(dir, "nope.parquet")}, ErrInput, "no such file"},
		{"wrong timestamp column", Config{Features: []string{"driver_hourly:*"}, TimestampColumn: "ts"}, ErrInput, `has no column "ts"`},
		{"feature column already in spine", Config{Features: []string{"driver_hourly:*"}, Spine: filepath.Join(dir, "clash.parquet")}, ErrConfig, `the spine already has a column "driver_hourly__conv_rate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Snapshot = snap
			if cfg.Spine == "" {
				cfg.Spine = filepath.Join(data, "spine.parquet")
			}
			cfg.Out = filepath.Join(t.TempDir(), "out.parquet")
			if tc.name == "feature column already in spine" {
				type clash struct {
					DriverID int64   `parquet:"driver_id"`
					T        int64   `parquet:"event_timestamp,timestamp(microsecond)"`
					Conv     float64 `parquet:"driver_hourly__conv_rate"`
				}
				writeFile(t, cfg.Spine, []clash{{1, 1, 0.5}})
			}
			_, err := Run(context.Background(), cfg)
			if err == nil || !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %v containing %q", err, tc.is, tc.want)
			}
			if entries, _ := os.ReadDir(filepath.Dir(cfg.Out)); len(entries) != 0 {
				t.Fatalf("a failed run left files: %v", entries)
			}
		})
	}
}

// TestCorruptSourceLeavesNoOutput breaks a source file after apply.
func TestCorruptSourceLeavesNoOutput(t *testing.T) {
	dir := t.TempDir()
	if _, err := rides.Write(dir, rides.Config{Drivers: 10, Riders: 10, Days: 2, SpineRows: 50}); err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, dir)
	src := filepath.Join(dir, "data", "trips.parquet")
	b, _ := os.ReadFile(src)
	os.WriteFile(src, b[:len(b)-100], 0o644)
	outDir := t.TempDir()
	_, err := Run(context.Background(), Config{Snapshot: snap, Features: []string{"driver_trips:*"}, Spine: filepath.Join(dir, "data", "spine.parquet"), Out: filepath.Join(outDir, "out.parquet")})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "trips.parquet") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
		t.Fatalf("a failed run left files: %v", entries)
	}
}

// TestPushViews: a view over a push source is backfilled from the push
// source's batch source; without one, the request is refused.
func TestPushViews(t *testing.T) {
	dir := t.TempDir()
	if _, err := rides.Write(dir, rides.Config{Drivers: 10, Riders: 10, Days: 2, SpineRows: 20}); err != nil {
		t.Fatal(err)
	}
	live := `
feature_views { name: "live_fares" entities: "driver" source: "trips_live"
  aggregations { name: "fare_sum_1h" function: SUM expr: "fare" window { seconds: 3600 } } }
sources { name: "no_history" push { } timestamp_column: "event_ts"
  schema { name: "driver_id" type: INT64 } schema { name: "event_ts" type: TIMESTAMP } schema { name: "x" type: DOUBLE } }
feature_views { name: "pushed_only" entities: "driver" source: "no_history" features { name: "x" type: DOUBLE } }
`
	if err := os.WriteFile(filepath.Join(dir, "live.textproto"), []byte(live), 0o644); err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, dir)
	spine := filepath.Join(dir, "data", "spine.parquet")
	out := filepath.Join(t.TempDir(), "live.parquet")
	if _, err := Run(context.Background(), Config{Snapshot: snap, Features: []string{"live_fares:*"}, Spine: spine, Out: out}); err != nil {
		t.Fatalf("push view with a batch source: %v", err)
	}
	_, err := Run(context.Background(), Config{Snapshot: snap, Features: []string{"pushed_only:x"}, Spine: spine, Out: out + "2"})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `push source "no_history", which has no batch source`) {
		t.Fatalf("push view without history: %v", err)
	}
}
