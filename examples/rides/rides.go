// Package rides is fstore's example domain: a ride-hailing marketplace with
// drivers and riders. It embeds the definitions file and generates its
// Parquet data deterministically: the same Config always produces the same
// rows, so quickstart output and tests are reproducible.
//
// The data has the quirks real sources have: rows are not sorted by key,
// some values are null, some hourly rows are corrected later by a row with
// the same event time and a newer created_ts, and trip completion follows a
// known rule (see completionLogit) so that a model has something to learn.
package rides

import (
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Definitions is the example's definitions file (textproto).
//
//go:embed definitions.textproto
var Definitions []byte

// DefinitionsFile is the file name Write gives the definitions.
const DefinitionsFile = "definitions.textproto"

// Config sizes the generated data. The zero value means the defaults.
type Config struct {
	// Drivers is the number of drivers. Default 500.
	Drivers int
	// Riders is the number of riders. Default 2000.
	Riders int
	// Days of history ending at End. Default 7.
	Days int
	// End is the end of the history (exclusive). Default 2026-01-08T00:00Z,
	// fixed so the data never depends on the clock.
	End time.Time
	// SpineRows is the number of trip requests in the training spine.
	// Default 10000.
	SpineRows int
	// Seed seeds the generator. Default 1.
	Seed uint64
}

// DefaultEnd is the default end of the generated history.
var DefaultEnd = time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)

func (c Config) withDefaults() Config {
	if c.Drivers == 0 {
		c.Drivers = 500
	}
	if c.Riders == 0 {
		c.Riders = 2000
	}
	if c.Days == 0 {
		c.Days = 7
	}
	if c.End.IsZero() {
		c.End = DefaultEnd
	}
	if c.SpineRows == 0 {
		c.SpineRows = 10000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// DriverStat is one row of data/driver_stats.parquet.
type DriverStat struct {
	DriverID      int64    `parquet:"driver_id"`
	EventTS       int64    `parquet:"event_ts,timestamp(microsecond)"`
	CreatedTS     int64    `parquet:"created_ts,timestamp(microsecond)"`
	ConvRate      *float64 `parquet:"conv_rate,optional"`
	AccRate       float64  `parquet:"acc_rate"`
	Trips         int64    `parquet:"trips"`
	AvgDailyTrips int64    `parquet:"avg_daily_trips"`
	Rating        float64  `parquet:"rating"`
}

// Trip is one row of data/trips.parquet.
type Trip struct {
	TripID      int64   `parquet:"trip_id"`
	DriverID    int64   `parquet:"driver_id"`
	RiderID     int64   `parquet:"rider_id"`
	EventTS     int64   `parquet:"event_ts,timestamp(microsecond)"`
	Fare        float64 `parquet:"fare"`
	Tip         float64 `parquet:"tip"`
	DistanceKm  float64 `parquet:"distance_km"`
	DurationS   int64   `parquet:"duration_s"`
	Completed   bool    `parquet:"completed"`
	PaymentType string  `parquet:"payment_type,dict"`
}

// Rider is one row of data/riders.parquet.
type Rider struct {
	RiderID        int64    `parquet:"rider_id"`
	EventTS        int64    `parquet:"event_ts,timestamp(microsecond)"`
	LifetimeTrips  int64    `parquet:"lifetime_trips"`
	AvgRatingGiven *float64 `parquet:"avg_rating_given,optional"`
	Segment        string   `parquet:"segment,dict"`
}

// Request is one row of data/spine.parquet: a trip request, its request
// context, and whether it completed (the label).
type Request struct {
	RequestID      int64   `parquet:"request_id"`
	DriverID       int64   `parquet:"driver_id"`
	RiderID        int64   `parquet:"rider_id"`
	EventTimestamp int64   `parquet:"event_timestamp,timestamp(microsecond)"`
	DistanceKm     float64 `parquet:"distance_km"`
	Surge          float64 `parquet:"surge"`
	Completed      bool    `parquet:"completed"`
}

// Stats counts what Generate wrote.
type Stats struct {
	DriverStats, Trips, Riders, Requests int
}

type driver struct {
	baseConv, baseAcc, rating float64
	tripsPerDay               float64
}

// Write writes the definitions file and generates the data under dir:
// dir/definitions.textproto and dir/data/*.parquet.
func Write(dir string, cfg Config) (Stats, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("rides: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, DefinitionsFile), Definitions, 0o644); err != nil {
		return Stats{}, fmt.Errorf("rides: %w", err)
	}
	return Generate(filepath.Join(dir, "data"), cfg)
}

// Generate writes driver_stats.parquet, trips.parquet, riders.parquet and
// spine.parquet into dir.
func Generate(dir string, cfg Config) (Stats, error) {
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("rides: %w", err)
	}
	if cfg.Drivers < 1 || cfg.Riders < 1 || cfg.Days < 1 || cfg.SpineRows < 0 {
		return Stats{}, fmt.Errorf("rides: drivers, riders and days must be positive, spine rows not negative: %+v", cfg)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	start := cfg.End.Add(-time.Duration(cfg.Days) * 24 * time.Hour)
	hours := cfg.Days * 24

	drivers := make([]driver, cfg.Drivers)
	for i := range drivers {
		drivers[i] = driver{
			baseConv:    0.2 + 0.7*rng.Float64(),
			baseAcc:     0.5 + 0.5*rng.Float64(),
			rating:      round(3.5+1.5*rng.Float64(), 2),
			tripsPerDay: 5 + 25*rng.Float64(),
		}
	}
	driverID := func(i int) int64 { return 1001 + int64(i) }
	riderID := func(i int) int64 { return 50001 + int64(i) }

	// Hourly stats, written hour by hour as a dispatch system dumps them:
	// sorted by time, not by driver.
	var stats []DriverStat
	var st Stats
	for h := 0; h < hours; h++ {
		ts := start.Add(time.Duration(h) * time.Hour)
		for i, d := range drivers {
			if rng.Float64() < 0.3 {
				continue // offline this hour
			}
			conv := clamp(d.baseConv+0.1*rng.NormFloat64(), 0, 1)
			row := DriverStat{
				DriverID:      driverID(i),
				EventTS:       ts.UnixMicro(),
				CreatedTS:     ts.Add(time.Duration(1+rng.IntN(300)) * time.Second).UnixMicro(),
				AccRate:       round(clamp(d.baseAcc+0.05*rng.NormFloat64(), 0, 1), 4),
				Trips:         int64(rng.IntN(int(d.tripsPerDay/12) + 2)),
				AvgDailyTrips: int64(d.tripsPerDay),
				Rating:        d.rating,
			}
			if rng.Float64() >= 0.01 {
				c := round(conv, 4)
				row.ConvRate = &c
			}
			stats = append(stats, row)
			if rng.Float64() < 0.02 {
				// A late correction: same event time, newer created_ts.
				fix := row
				c := round(clamp(conv+0.05, 0, 1), 4)
				fix.ConvRate = &c
				fix.CreatedTS = ts.Add(2 * time.Hour).UnixMicro()
				stats = append(stats, fix)
			}
		}
	}

	// Trips, appended in time order per driver then shuffled into the
	// arrival order of a log.
	var trips []Trip
	payments := []string{"card", "card", "card", "wallet", "cash"}
	for i, d := range drivers {
		n := int(d.tripsPerDay * float64(cfg.Days))
		for k := 0; k < n; k++ {
			ts := start.Add(time.Duration(rng.Int64N(int64(cfg.End.Sub(start)/time.Second))) * time.Second)
			dist := round(0.5+rng.ExpFloat64()*6, 2)
			fare := round(2.5+1.2*dist+rng.Float64()*3, 2)
			completed := rng.Float64() < sigmoid(completionLogit(d.baseConv, dist, 1))
			t := Trip{
				TripID:      int64(len(trips) + 1),
				DriverID:    driverID(i),
				RiderID:     riderID(rng.IntN(cfg.Riders)),
				EventTS:     ts.UnixMicro(),
				DistanceKm:  dist,
				DurationS:   int64(dist*120) + int64(rng.IntN(600)),
				Completed:   completed,
				PaymentType: payments[rng.IntN(len(payments))],
			}
			if completed {
				t.Fare = fare
				t.Tip = round(fare*0.15*rng.Float64(), 2)
			}
			trips = append(trips, t)
		}
	}
	rng.Shuffle(len(trips), func(i, j int) { trips[i], trips[j] = trips[j], trips[i] })

	// Rider profiles: one snapshot at sign-up time and a few updates.
	segments := []string{"consumer", "consumer", "consumer", "business", "student"}
	var riders []Rider
	for i := 0; i < cfg.Riders; i++ {
		seg := segments[rng.IntN(len(segments))]
		life := int64(rng.IntN(200))
		updates := 1 + rng.IntN(3)
		for u := 0; u < updates; u++ {
			ts := start.Add(-24 * time.Hour).Add(time.Duration(u) * time.Duration(cfg.Days) * 24 * time.Hour / time.Duration(updates))
			r := Rider{RiderID: riderID(i), EventTS: ts.Add(time.Duration(rng.IntN(3600)) * time.Second).UnixMicro(), LifetimeTrips: life, Segment: seg}
			if rng.Float64() >= 0.05 {
				v := round(3+2*rng.Float64(), 2)
				r.AvgRatingGiven = &v
			}
			riders = append(riders, r)
			life += int64(rng.IntN(20))
		}
	}

	// Training spine: requests spread over the last six sevenths of the
	// history (so most have features to look back on), with their outcome.
	// Some name drivers that do not exist.
	spineStart := start.Add(cfg.End.Sub(start) / 7)
	spineSeconds := int64(cfg.End.Sub(spineStart) / time.Second)
	requests := make([]Request, cfg.SpineRows)
	for k := range requests {
		di := rng.IntN(cfg.Drivers + cfg.Drivers/50 + 1)
		ts := spineStart.Add(time.Duration(rng.Int64N(spineSeconds)) * time.Second)
		dist := round(0.5+rng.ExpFloat64()*6, 2)
		surge := round(1+math.Max(0, rng.NormFloat64()*0.3), 2)
		conv := 0.5
		if di < cfg.Drivers {
			conv = drivers[di].baseConv
		}
		requests[k] = Request{
			RequestID:      int64(k + 1),
			DriverID:       driverID(di),
			RiderID:        riderID(rng.IntN(cfg.Riders)),
			EventTimestamp: ts.UnixMicro(),
			DistanceKm:     dist,
			Surge:          surge,
			Completed:      rng.Float64() < sigmoid(completionLogit(conv, dist, surge)),
		}
	}

	if err := write(filepath.Join(dir, "driver_stats.parquet"), stats); err != nil {
		return st, err
	}
	if err := write(filepath.Join(dir, "trips.parquet"), trips); err != nil {
		return st, err
	}
	if err := write(filepath.Join(dir, "riders.parquet"), riders); err != nil {
		return st, err
	}
	if err := write(filepath.Join(dir, "spine.parquet"), requests); err != nil {
		return st, err
	}
	return Stats{DriverStats: len(stats), Trips: len(trips), Riders: len(riders), Requests: len(requests)}, nil
}

// completionLogit is the rule behind trip completion: drivers with a high
// conversion rate complete more, long trips and surge pricing complete less.
func completionLogit(conv, distanceKm, surge float64) float64 {
	return -1 + 4*conv - 0.08*distanceKm - 1.5*(surge-1)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// write writes rows to path through a temporary file, renamed on success,
// with zstd compression and bounded row groups.
func write[T any](path string, rows []T) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("rides: %w", err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(64*1024))
	if _, err := w.Write(rows); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("rides: writing %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("rides: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rides: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rides: %w", err)
	}
	return nil
}
