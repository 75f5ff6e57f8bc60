package featurestore_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

// pushCheckView compiles qualityDefs' driver_trips (without its
// expectations), with allow_non_finite on the fare column when allow.
func pushCheckView(t *testing.T, allow bool) *featurestore.OnlineView {
	t.Helper()
	src := t.TempDir()
	writeTrips(t, filepath.Join(src, "a.parquet"), 2, nil)
	text := strings.NewReplacer("SRC", src, "LAG", "", " expect { max: 200 }", "", ` expect { allowed_values: "card" allowed_values: "cash" }`, "").Replace(qualityDefs)
	if allow {
		text = strings.Replace(text, `schema { name: "fare" type: DOUBLE }`, `schema { name: "fare" type: DOUBLE allow_non_finite: true }`, 1)
	}
	p, err := registry.ParseText("defs", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := def.NewIndex(d)
	if got := ix.Source("trips_push").Schema[2]; got.Name != "fare" || got.AllowNonFinite != allow {
		t.Fatalf("fare field %+v, want AllowNonFinite %v", got, allow)
	}
	ov, err := featurestore.CompileOnline(ix, ix.FeatureView("driver_trips"))
	if err != nil {
		t.Fatal(err)
	}
	return ov
}

// events builds pushed events of ov: one per fare, event times ts.
func events(ov *featurestore.OnlineView, fares []float64, ts []time.Time) *compute.Batch {
	b := featurestore.NewEventBuilder(ov.Push.Source)
	for i, f := range fares {
		b.AddRow()
		b.SetInt64(0, int64(i))
		b.SetInt64(1, ts[i].UnixMicro())
		if !math.IsNaN(f) || i != 0 { // a NaN first fare stays null: nulls are not checked
			b.SetDouble(2, f)
		}
		b.SetString(3, "card")
	}
	return b.Batch()
}

func TestPushRefusesPoison(t *testing.T) {
	ctx := context.Background()
	now := qualityT0.Add(48 * time.Hour)
	at := func(d ...time.Duration) []time.Time {
		out := make([]time.Time, len(d))
		for i, x := range d {
			out[i] = now.Add(x)
		}
		return out
	}
	const hint = ` is not a finite number (source "trips_push" column "fare" is DOUBLE; set allow_non_finite on the column to accept it)`
	for _, tc := range []struct {
		name      string
		allow     bool
		fares     []float64
		ts        []time.Time
		maxFuture time.Duration
		want      string // "": pushed
	}{
		{"finite", false, []float64{1, math.MaxFloat64}, at(-time.Hour, 0), 0, ""},
		{"NaN", false, []float64{1, 2, math.NaN()}, at(0, 0, 0), 0, "events[2].fare: NaN" + hint},
		{"+Inf", false, []float64{math.Inf(1)}, at(0), 0, "events[0].fare: +Inf" + hint},
		{"-Inf", false, []float64{1, math.Inf(-1)}, at(0, 0), 0, "events[1].fare: -Inf" + hint},
		{"null", false, []float64{math.NaN(), 1}, at(0, 0), 0, ""},
		{"allowed", true, []float64{math.NaN(), math.NaN(), math.Inf(1), math.Inf(-1)}, at(0, 0, 0, 0), 0, ""},
		{"30m", false, []float64{1}, at(30 * time.Minute), 0, ""},
		{"1h", false, []float64{1}, at(time.Hour), 0, ""},
		{"1h+1µs", false, []float64{1, 1}, at(0, time.Hour+time.Microsecond), 0, "events[1].ts: 2026-01-03T01:00:00.000001Z is more than 1h in the future (--max-future)"},
		{"2h", false, []float64{1}, at(2 * time.Hour), 0, "events[0].ts: 2026-01-03T02:00:00Z is more than 1h in the future (--max-future)"},
		{"2h/max=3h", false, []float64{1}, at(2 * time.Hour), 3 * time.Hour, ""},
		{"2h/max=90m", false, []float64{1}, at(2 * time.Hour), 90 * time.Minute, "events[0].ts: 2026-01-03T02:00:00Z is more than 1h30m in the future (--max-future)"},
		{"year 9999", false, []float64{1}, []time.Time{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, 0, "events[0].ts: 9999-01-01T00:00:00Z is more than 1h in the future (--max-future)"},
		{"unbounded", false, []float64{1}, []time.Time{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ov := pushCheckView(t, tc.allow)
			st, err := featurestore.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ev := events(ov, tc.fares, tc.ts)
			opts := featurestore.PushOptions{Now: func() time.Time { return now }, MaxFuture: tc.maxFuture}
			checkErr := featurestore.CheckEventsWith(ov, ev, opts)
			_, err = featurestore.Push(ctx, st.Online(), ov, ev, opts)
			if tc.want == "" {
				if err != nil || checkErr != nil {
					t.Fatalf("Push: %v; CheckEventsWith: %v", err, checkErr)
				}
				if n := countValues(t, st, ov); n == 0 {
					t.Fatal("nothing written")
				}
				return
			}
			for _, e := range []error{err, checkErr} {
				var ee *featurestore.EventError
				if e == nil || e.Error() != tc.want || !errors.Is(e, featurestore.ErrBadEvents) || !errors.As(e, &ee) {
					t.Fatalf("got  %v\nwant %s (an EventError matching ErrBadEvents)", e, tc.want)
				}
			}
			if n := countValues(t, st, ov); n != 0 {
				t.Fatalf("%d values written by a refused push", n)
			}
		})
	}
}

// TestCheckValuesShape: a batch not laid out by the schema is an error,
// not a panic.
func TestCheckValuesShape(t *testing.T) {
	ov := pushCheckView(t, false)
	err := featurestore.CheckValues(ov.Push.Source, &compute.Batch{Len: 1}, time.Now(), time.Hour)
	if want := `featurestore: bad events: push source "trips_push" has 4 columns, the events 0`; err == nil || err.Error() != want || !errors.Is(err, featurestore.ErrBadEvents) {
		t.Fatalf("got %v, want %s", err, want)
	}
	ev := events(ov, []float64{1}, []time.Time{time.Now()})
	ev.Cols[2] = &compute.Column{Type: def.Int64}
	if err := featurestore.CheckValues(ov.Push.Source, ev, time.Now(), time.Hour); err == nil || !errors.Is(err, featurestore.ErrBadEvents) {
		t.Fatalf("a column of the wrong type: %v", err)
	}
}

// TestCheckValuesInt64Time: a timestamp column declared INT64
// microseconds is bounded as a TIMESTAMP one is.
func TestCheckValuesInt64Time(t *testing.T) {
	src := &def.Source{Name: "s", TimestampColumn: "ts", Schema: []def.Field{{Name: "ts", Type: def.Int64}, {Name: "x", Type: def.Double}}}
	b := featurestore.NewEventBuilder(src)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.AddRow()
	b.SetInt64(0, now.Add(time.Hour).UnixMicro())
	b.AddRow()
	b.SetInt64(0, now.Add(2*time.Hour).UnixMicro())
	b.SetDouble(1, 1)
	err := featurestore.CheckValues(src, b.Batch(), now, time.Hour)
	if want := "events[1].ts: 2026-01-01T02:00:00Z is more than 1h in the future (--max-future)"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// BenchmarkCheckValues measures the value checks of a 1,024-event push.
//
//	go test ./featurestore -run '^$' -bench CheckValues -count 10 | benchstat -
func BenchmarkCheckValues(b *testing.B) {
	src := &def.Source{Name: "s", TimestampColumn: "ts", Schema: []def.Field{{Name: "ts", Type: def.Timestamp}, {Name: "x", Type: def.Double}, {Name: "y", Type: def.Double}}}
	eb := featurestore.NewEventBuilder(src)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 1024
	for i := range n {
		eb.AddRow()
		eb.SetInt64(0, now.Add(-time.Duration(i)*time.Second).UnixMicro())
		eb.SetDouble(1, float64(i))
		eb.SetDouble(2, float64(i)/3)
	}
	ev := eb.Batch()
	b.ReportAllocs()
	for b.Loop() {
		if err := featurestore.CheckValues(src, ev, now, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "events/s")
}
