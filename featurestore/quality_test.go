package featurestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

const qualityDefs = `
entities { name: "driver" join_keys { name: "k" type: INT64 } }
sources { name: "trips" parquet { path: "SRC" } timestamp_column: "ts" }
sources { name: "trips_push" push { batch_source: "trips" } timestamp_column: "ts"
  schema { name: "k" type: INT64 } schema { name: "ts" type: TIMESTAMP }
  schema { name: "fare" type: DOUBLE } schema { name: "pay" type: STRING } }
feature_views {
  name: "driver_trips" entities: "driver" source: "trips_push" online: true LAG
  features { name: "fare" type: DOUBLE expect { max: 200 } }
  features { name: "pay" type: STRING expect { allowed_values: "card" allowed_values: "cash" } }
  aggregations { name: "fare_max_24h" function: MAX expr: "fare" window { seconds: 86400 } hop { seconds: 3600 } expect { max: 200 } }
}
`

type qualityRow struct {
	K    *int64   `parquet:"k,optional"`
	TS   *int64   `parquet:"ts,timestamp(microsecond),optional"`
	Fare *float64 `parquet:"fare,optional"`
	Pay  *string  `parquet:"pay,optional"`
}

var qualityT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func qualityIndex(t *testing.T, src, lag string) *def.Index {
	t.Helper()
	text := strings.Replace(strings.Replace(qualityDefs, "SRC", src, 1), "LAG", lag, 1)
	p, err := registry.ParseText("defs", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return def.NewIndex(d)
}

// writeTrips writes n trips, one per driver, an hour apart from T0, with
// fare 10*(i+1) unless fares overrides row i.
func writeTrips(t *testing.T, path string, n int, fares map[int]float64) {
	t.Helper()
	var rows []qualityRow
	for i := range n {
		f := float64(10 * (i + 1))
		if x, ok := fares[i]; ok {
			f = x
		}
		rows = append(rows, qualityRow{K: ptr(int64(i)), TS: ptr(qualityT0.Add(time.Duration(i) * time.Hour).UnixMicro()), Fare: ptr(f), Pay: ptr("card")})
	}
	if err := parquet.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(4)); err != nil {
		t.Fatal(err)
	}
}

// TestMaterializeQualityGate: a history breaking a gate writes nothing and
// leaves the watermark; AllowViolations writes and reports.
func TestMaterializeQualityGate(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeTrips(t, filepath.Join(src, "a.parquet"), 6, nil)
	writeTrips(t, filepath.Join(src, "b.parquet"), 10, map[int]float64{7: 250, 9: 220})
	ix := qualityIndex(t, src, "")
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ov, err := featurestore.CompileOnline(ix, ix.FeatureView("driver_trips"))
	if err != nil {
		t.Fatal(err)
	}
	end := qualityT0.Add(12 * time.Hour)
	_, err = featurestore.Materialize(ctx, ix, st.Online(), featurestore.MaterializeOptions{End: end})
	want := `featurestore: materialize "driver_trips": data-quality gate of view "driver_trips" failed: ` +
		`fare: 250 is above max 200 (2 of 10 rows; first: b.parquet row 7, b.parquet row 9); ` +
		`fare_max_24h: 250 is above max 200 (2 of 16 rows; first: b.parquet row 7, b.parquet row 9)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	var qe *featurestore.QualityError
	if !errors.Is(err, featurestore.ErrQuality) || !errors.As(err, &qe) || qe.Violations[0].Rule.String() != "max" {
		t.Fatalf("%v does not match ErrQuality with a max violation", err)
	}
	if errors.Is(err, featurestore.ErrBadEvents) {
		t.Fatal("a materialisation's violation matches ErrBadEvents")
	}
	if wm, err := featurestore.ReadWatermark(ctx, st.Online(), ov); err != nil || wm.Materialized() {
		t.Fatalf("watermark moved: %+v, %v", wm, err)
	}
	if n := countValues(t, st, ov); n != 0 {
		t.Fatalf("%d values written by a failed gate", n)
	}

	stats, err := featurestore.Materialize(ctx, ix, st.Online(), featurestore.MaterializeOptions{End: end, AllowViolations: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || len(stats[0].Violations) != 2 || stats[0].Violations[0].String() != `view "driver_trips": fare: 250 is above max 200 (2 of 10 rows; first: b.parquet row 7, b.parquet row 9)` {
		t.Fatalf("stats: %+v", stats)
	}
	if wm, err := featurestore.ReadWatermark(ctx, st.Online(), ov); err != nil || wm.Through != end.UnixMicro() {
		t.Fatalf("watermark after an allowed run: %+v, %v", wm, err)
	}
	if n := countValues(t, st, ov); n != 10 {
		t.Fatalf("%d values written, want 10", n)
	}
}

func countValues(t *testing.T, st *featurestore.Store, ov *featurestore.OnlineView) int {
	t.Helper()
	n := 0
	err := st.Online().Scan(context.Background(), ov.Prefix(), func(k, v []byte) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMaterializeFreshnessGate(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeTrips(t, filepath.Join(src, "a.parquet"), 3, nil) // newest event T0+2h
	ix := qualityIndex(t, src, "max_freshness_lag { seconds: 3600 }")
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := featurestore.Materialize(ctx, ix, st.Online(), featurestore.MaterializeOptions{End: qualityT0.Add(3 * time.Hour)}); err != nil {
		t.Fatalf("a lag of exactly max_freshness_lag: %v", err)
	}
	_, err = featurestore.Materialize(ctx, ix, st.Online(), featurestore.MaterializeOptions{End: qualityT0.Add(5 * time.Hour), Full: true})
	want := `featurestore: materialize "driver_trips": data-quality gate of view "driver_trips" failed: newest event lags by 3h0m0s, more than max_freshness_lag 1h0m0s`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	// Incremental with nothing new: the lag is at least end - watermark.
	_, err = featurestore.Materialize(ctx, ix, st.Online(), featurestore.MaterializeOptions{End: qualityT0.Add(6 * time.Hour)})
	want = `featurestore: materialize "driver_trips": data-quality gate of view "driver_trips" failed: newest event lags by more than 3h0m0s (no event after 2026-01-01T03:00:00Z), more than max_freshness_lag 1h0m0s`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestPushQualityGate(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeTrips(t, filepath.Join(src, "a.parquet"), 2, nil)
	ix := qualityIndex(t, src, "")
	ov, err := featurestore.CompileOnline(ix, ix.FeatureView("driver_trips"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct{ in, want string }{
		{`{"k": 1, "ts": "2026-01-01T00:00:00Z", "fare": 20, "pay": "card"}
{"k": 2, "ts": "2026-01-01T00:00:00Z", "fare": 250, "pay": "card"}`,
			`events[1].fare: 250 is above max 200 (expect of driver_trips:fare)`},
		{`{"k": 1, "ts": "2026-01-01T00:00:00Z", "fare": 20, "pay": "crypto"}`,
			`events[0].pay: "crypto" is not in allowed_values [card cash] (expect of driver_trips:pay)`},
	} {
		b, err := featurestore.DecodeJSONLines(strings.NewReader(tc.in), ov)
		if err != nil {
			t.Fatal(err)
		}
		if err := featurestore.CheckEvents(ov, b); err == nil || err.Error() != tc.want {
			t.Fatalf("CheckEvents: got %v\nwant %s", err, tc.want)
		}
		_, err = featurestore.Push(ctx, st.Online(), ov, b, featurestore.PushOptions{})
		if err == nil || err.Error() != tc.want {
			t.Fatalf("got  %v\nwant %s", err, tc.want)
		}
		if !errors.Is(err, featurestore.ErrBadEvents) || !errors.Is(err, featurestore.ErrQuality) {
			t.Fatalf("%v: want ErrBadEvents and ErrQuality", err)
		}
		if n := countValues(t, st, ov); n != 0 {
			t.Fatalf("%d values written by a rejected push", n)
		}
	}
	b, err := featurestore.DecodeJSONLines(strings.NewReader(`{"k": 1, "ts": "2026-01-01T00:00:00Z", "fare": 200, "pay": "cash"}`), ov)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := featurestore.Push(ctx, st.Online(), ov, b, featurestore.PushOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestMaterializeSourceTypeChanged: a history file whose column changed
// type since the view was compiled is reported as such, not as a decode
// error.
func TestMaterializeSourceTypeChanged(t *testing.T) {
	src := t.TempDir()
	writeTrips(t, filepath.Join(src, "a.parquet"), 2, nil)
	ix := qualityIndex(t, src, "")
	type changed struct {
		K    *int64  `parquet:"k,optional"`
		TS   *int64  `parquet:"ts,timestamp(microsecond),optional"`
		Fare *string `parquet:"fare,optional"`
		Pay  *string `parquet:"pay,optional"`
	}
	bad := filepath.Join(src, "b.parquet")
	if err := parquet.WriteFile(bad, []changed{{K: ptr(int64(1)), TS: ptr(int64(0)), Fare: ptr("12.5")}}); err != nil {
		t.Fatal(err)
	}
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = featurestore.Materialize(context.Background(), ix, st.Online(), featurestore.MaterializeOptions{End: qualityT0})
	want := `featurestore: materialize "driver_trips": source "trips": compute: bad input: column "fare" was DOUBLE when the view was applied, the file ` + bad + ` now has STRING (re-apply the definitions or convert the file)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	os.Remove(bad)
}
