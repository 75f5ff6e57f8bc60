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
	// Reservoir sampling by Li's Algorithm L: once the sample is full,
	// next is the index (among values seen) of the next value to take,
	// and w the algorithm's running weight.
	next int64
	w    float64
}

type profiler struct {
	cols []*colProfile
	rng  *rand.Rand
	xs   []float64 // scratch: one chunk's numbers
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
		xs := p.xs[:0]
		for i := 0; i < n; i++ {
			if c.Null(i) {
				cp.nulls++
				continue
			}
			switch c.Type {
			case def.Int64, def.Timestamp:
				xs = append(xs, float64(c.I64[i]))
			case def.Double:
				if math.IsNaN(c.F64[i]) {
					cp.nan++
					cp.count++
					continue
				}
				xs = append(xs, c.F64[i])
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
		cp.numbers(p.rng, xs)
		p.xs = xs[:0]
	}
}

// numbers adds a chunk of values (no NaN): its moments are computed on
// their own and merged (Chan et al.), and the reservoir skips ahead to the
// values it keeps instead of drawing a number for each one.
func (c *colProfile) numbers(rng *rand.Rand, xs []float64) {
	if len(xs) == 0 {
		return
	}
	var sum float64
	lo, hi := c.min, c.max
	for _, x := range xs {
		sum += x
		// Plain comparisons (math.Min is a call per value); a zero's
		// sign still counts, as math.Min's does.
		if x < lo || x == 0 && lo == 0 && math.Signbit(x) {
			lo = x
		}
		if x > hi || x == 0 && hi == 0 && !math.Signbit(x) {
			hi = x
		}
	}
	nb := float64(len(xs))
	mb := sum / nb
	var m2b float64
	for _, x := range xs {
		d := x - mb
		m2b += d * d
	}
	na := float64(c.seen)
	delta := mb - c.mean
	c.mean += delta * nb / (na + nb)
	c.m2 += m2b + delta*delta*na*nb/(na+nb)
	c.min, c.max = lo, hi
	c.count += int64(len(xs))
	first := c.seen
	c.seen += int64(len(xs))
	i := 0
	for ; len(c.sample) < reservoirSize && i < len(xs); i++ {
		c.sample = append(c.sample, xs[i])
		if len(c.sample) == reservoirSize {
			c.w = math.Exp(math.Log(1-rng.Float64()) / reservoirSize)
			c.skip(rng, first+int64(i))
		}
	}
	for c.next < c.seen && len(c.sample) == reservoirSize {
		c.sample[rng.IntN(reservoirSize)] = xs[c.next-first]
		c.w *= math.Exp(math.Log(1-rng.Float64()) / reservoirSize)
		c.skip(rng, c.next)
	}
}

// skip sets next past index at, by Algorithm L's geometric jump.
func (c *colProfile) skip(rng *rand.Rand, at int64) {
	jump := math.Floor(math.Log(1-rng.Float64()) / math.Log(1-c.w))
	if !(jump < math.MaxInt64/2) {
		jump = math.MaxInt64 / 2 // never again, in practice
	}
	c.next = at + int64(jump) + 1
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
