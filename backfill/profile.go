package backfill

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// The baseline profile is written beside the training set as
// <out>.profile.json, for the skew checks to compare served values with.
// Format (ProfileFormat):
//
//	{
//	  "format": "fstore.profile/v1",
//	  "dataset": "train.parquet",          // base name of the training set
//	  "rows": 1000000,
//	  "features": [{
//	    "name": "driver_hourly__conv_rate", "type": "DOUBLE",
//	    "count": 998000, "nulls": 2000,     // non-null and null values
//	    // numbers and timestamps (timestamps in microseconds):
//	    "min": 0.01, "max": 0.99, "mean": 0.52, "stddev": 0.21,
//	    "nan": 0,                           // NaN values (DOUBLE), not in the statistics
//	    "quantiles": {"p01": …, "p05": …, "p25": …, "p50": …, "p75": …, "p95": …, "p99": …},
//	    // BOOL: "true": 51000
//	    // STRING: "distinct": 12 (exact up to 10000, then a lower bound with
//	    //          "distinct_capped": true), "top": [{"value": "card", "count": 600000}, …]
//	  }]
//	}
//
// Quantiles come from a uniform reservoir sample of 10000 values with a
// fixed seed, so the same training set always gives the same profile.
const ProfileFormat = "fstore.profile/v1"

const (
	reservoirSize = 10000
	distinctCap   = 10000
	topK          = 10
)

type colProfile struct {
	field    def.Field
	count    int64
	nulls    int64
	nan      int64
	min, max float64
	mean, m2 float64
	sample   []float64
	seen     int64
	trues    int64
	distinct map[string]int64
	capped   bool
}

type profiler struct {
	cols []*colProfile
	rng  *rand.Rand
}

func newProfiler(fields []def.Field) *profiler {
	p := &profiler{rng: rand.New(rand.NewPCG(0x5eed, 1))}
	for _, f := range fields {
		c := &colProfile{field: f, min: math.Inf(1), max: math.Inf(-1)}
		if f.Type == def.String {
			c.distinct = map[string]int64{}
		}
		p.cols = append(p.cols, c)
	}
	return p
}

func (p *profiler) add(cols []*compute.Column, n int) {
	for k, c := range cols {
		cp := p.cols[k]
		for i := 0; i < n; i++ {
			if c.Null(i) {
				cp.nulls++
				continue
			}
			switch c.Type {
			case def.Int64, def.Timestamp:
				cp.number(p.rng, float64(c.I64[i]))
			case def.Double:
				if math.IsNaN(c.F64[i]) {
					cp.nan++
					cp.count++
					continue
				}
				cp.number(p.rng, c.F64[i])
			case def.Bool:
				cp.count++
				if c.B[i] {
					cp.trues++
				}
			case def.String:
				cp.count++
				s := c.S[i]
				if _, ok := cp.distinct[s]; ok || len(cp.distinct) < distinctCap {
					cp.distinct[s]++
				} else {
					cp.capped = true
				}
			}
		}
	}
}

func (c *colProfile) number(rng *rand.Rand, x float64) {
	c.count++
	c.min, c.max = math.Min(c.min, x), math.Max(c.max, x)
	// Welford's update; infinities make the moments infinite, as they are.
	c.seen++
	d := x - c.mean
	c.mean += d / float64(c.seen)
	c.m2 += d * (x - c.mean)
	if len(c.sample) < reservoirSize {
		c.sample = append(c.sample, x)
	} else if j := rng.Int64N(c.seen); j < reservoirSize {
		c.sample[j] = x
	}
}

func (p *profiler) write(path, dataset string, rows int64) error {
	type top struct {
		Value string `json:"value"`
		Count int64  `json:"count"`
	}
	type feature struct {
		Name      string             `json:"name"`
		Type      string             `json:"type"`
		Count     int64              `json:"count"`
		Nulls     int64              `json:"nulls"`
		Min       *float64           `json:"min,omitempty"`
		Max       *float64           `json:"max,omitempty"`
		Mean      *float64           `json:"mean,omitempty"`
		Stddev    *float64           `json:"stddev,omitempty"`
		NaN       int64              `json:"nan,omitempty"`
		Quantiles map[string]float64 `json:"quantiles,omitempty"`
		True      *int64             `json:"true,omitempty"`
		Distinct  *int               `json:"distinct,omitempty"`
		Capped    bool               `json:"distinct_capped,omitempty"`
		Top       []top              `json:"top,omitempty"`
	}
	out := struct {
		Format   string    `json:"format"`
		Dataset  string    `json:"dataset"`
		Rows     int64     `json:"rows"`
		Features []feature `json:"features"`
	}{Format: ProfileFormat, Dataset: filepath.Base(dataset), Rows: rows}
	finite := func(x float64) *float64 {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil // JSON has no infinities; absent means unbounded or undefined
		}
		return &x
	}
	for _, c := range p.cols {
		f := feature{Name: c.field.Name, Type: c.field.Type.String(), Count: c.count, Nulls: c.nulls, NaN: c.nan}
		switch c.field.Type {
		case def.Int64, def.Double, def.Timestamp:
			if c.seen > 0 {
				f.Min, f.Max, f.Mean = finite(c.min), finite(c.max), finite(c.mean)
				f.Stddev = finite(math.Sqrt(c.m2 / float64(c.seen)))
				s := append([]float64(nil), c.sample...)
				sort.Float64s(s)
				f.Quantiles = map[string]float64{}
				for _, q := range []int{1, 5, 25, 50, 75, 95, 99} {
					v := s[min(len(s)-1, int(float64(q)/100*float64(len(s))))]
					if !math.IsInf(v, 0) {
						f.Quantiles[fmt.Sprintf("p%02d", q)] = v
					}
				}
			}
		case def.Bool:
			t := c.trues
			f.True = &t
		case def.String:
			d := len(c.distinct)
			f.Distinct, f.Capped = &d, c.capped
			for v, n := range c.distinct {
				f.Top = append(f.Top, top{v, n})
			}
			sort.Slice(f.Top, func(i, j int) bool {
				if f.Top[i].Count != f.Top[j].Count {
					return f.Top[i].Count > f.Top[j].Count
				}
				return f.Top[i].Value < f.Top[j].Value
			})
			if len(f.Top) > topK {
				f.Top = f.Top[:topK]
			}
		}
		out.Features = append(out.Features, f)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("backfill: cannot encode profile: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("backfill: cannot write profile: %w", err)
	}
	return os.Rename(tmp, path)
}
