package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/internal/atomicfile"
)

// Profile returns the profile of what was added so far (Format); dataset
// is the profiled data set's path, of which the base name is recorded,
// and rows its number of rows.
func (p *Profiler) Profile(dataset string, rows int64) (*Profile, error) {
	out := &Profile{Format: Format, Dataset: filepath.Base(dataset), Rows: rows,
		Features: make([]Feature, 0, len(p.cols)), Expectations: slices.Clone(p.expectations)}
	finite := func(x float64) *float64 {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil // JSON has no infinities; absent means unbounded or undefined
		}
		return &x
	}
	for k, c := range p.cols {
		fd := p.fields[k]
		f := Feature{Name: fd.Name, Type: fd.Type.String(), Count: c.count, Nulls: c.nulls, NaN: c.nan}
		if numeric(fd.Type) && c.seen > 0 {
			f.Min, f.Max, f.Mean = finite(c.min), finite(c.max), finite(c.mean)
			f.Stddev = finite(math.Sqrt(c.m2 / float64(c.seen)))
			s := slices.Clone(c.sample)
			slices.Sort(s)
			f.Quantiles = map[string]float64{}
			for _, q := range quantileKeys {
				v := s[min(len(s)-1, int(q.q*float64(len(s))))]
				if !math.IsInf(v, 0) {
					f.Quantiles[q.key] = v
				}
			}
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.sketch.ToProto())
			if err != nil {
				return nil, fmt.Errorf("profile: cannot encode the sketch of %q: %w", fd.Name, err)
			}
			f.Sketch = &Sketch{RelativeAccuracy: RelativeAccuracy, MaxBins: SketchBins, Outside: c.outside, DDSketch: b}
			f.sketch = c.sketch.Copy()
		}
		switch fd.Type {
		case def.Bool:
			t, fl := c.trues, c.falses
			f.True, f.False = &t, &fl
		case def.String:
			for _, tv := range c.strs.top(TopK) {
				f.Top = append(f.Top, TopValue{tv.v, tv.n})
			}
			f.Distinct, f.DistinctApprox, f.TopError = distinct(c.strs.approx, len(c.strs.m), c.hll), c.strs.approx, c.strs.err
		case def.Int64:
			for _, tv := range c.ints.top(TopK) {
				f.Top = append(f.Top, TopValue{formatInt(tv.v), tv.n})
			}
			f.Distinct, f.DistinctApprox, f.TopError = distinct(c.ints.approx, len(c.ints.m), c.hll), c.ints.approx, c.ints.err
		}
		out.Features = append(out.Features, f)
	}
	return out, nil
}

func distinct(approx bool, exact int, h *hll) *int64 {
	d := int64(exact)
	if approx {
		d = int64(math.Round(h.estimate()))
	}
	return &d
}

// Encode returns the profile of what was added so far as JSON (Format);
// see Profile for dataset and rows.
func (p *Profiler) Encode(dataset string, rows int64) ([]byte, error) {
	pr, err := p.Profile(dataset, rows)
	if err != nil {
		return nil, err
	}
	return pr.Encode()
}

// Encode returns the profile as indented JSON, in its own Format.
func (p *Profile) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("profile: cannot encode: %w", err)
	}
	return append(b, '\n'), nil
}

// WriteFile writes an encoded profile to path atomically (a temporary
// file beside it, synced and renamed into place).
func WriteFile(path string, b []byte) error {
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return fmt.Errorf("profile: cannot write %s: %w", path, err)
	}
	return nil
}

// Read reads and decodes the profile file at path; errors name it.
func Read(path string) (*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profile: cannot read %s: %w", path, err)
	}
	p, err := Decode(b)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.File = path
		}
		return nil, err
	}
	return p, nil
}
