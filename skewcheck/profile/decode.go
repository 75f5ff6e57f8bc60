package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/pb/sketchpb"
	"google.golang.org/protobuf/proto"

	"github.com/fstore/fstore/featurestore/def"
)

// FieldError is a decoding error: the file (set by Read), the field and
// what was wrong. It matches ErrFormat.
type FieldError struct {
	File  string // empty when decoding bytes
	Field string // e.g. `features[2] "trips__rate".sketch`
	Msg   string
}

func (e *FieldError) Error() string {
	where := e.Field
	if e.File != "" {
		where = e.File + ": " + where
	}
	return "profile: " + where + ": " + e.Msg
}

// Is makes FieldError match ErrFormat.
func (e *FieldError) Is(target error) bool { return target == ErrFormat }

// Limits on what Decode accepts.
const (
	// maxSketchSpan bounds the indexes one sketch store spans.
	maxSketchSpan = 1 << 16
	// maxSketchCount bounds a sketch's counts (beyond any real count).
	maxSketchCount = 1e18
)

// Decode decodes a profile in Format or FormatV1, checking every field;
// errors match ErrFormat and name the field. It never panics, and the
// sketches it decodes span at most 4096+len(b) bins in all (real
// sketches take over 8 bytes a bin).
func Decode(b []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(b, &p); err != nil {
		field := "profile"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			field = te.Field
		}
		return nil, &FieldError{Field: field, Msg: "not valid profile JSON: " + err.Error()}
	}
	ferr := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch p.Format {
	case Format, FormatV1:
	case "":
		return nil, ferr("format", "missing (want %q or %q)", Format, FormatV1)
	default:
		return nil, ferr("format", "%q is not a profile format this version reads (want %q or %q)", p.Format, Format, FormatV1)
	}
	if p.Rows < 0 {
		return nil, ferr("rows", "%d is negative", p.Rows)
	}
	budget := 4096 + len(b)
	names := make(map[string]int, len(p.Features))
	for i := range p.Features {
		f := &p.Features[i]
		at := fmt.Sprintf("features[%d]", i)
		if f.Name == "" {
			return nil, ferr(at+".name", "missing")
		}
		at = fmt.Sprintf("features[%d] %q", i, f.Name)
		if j, dup := names[f.Name]; dup {
			return nil, ferr(at+".name", "repeats features[%d]", j)
		}
		names[f.Name] = i
		if err := checkFeature(f, at, p.Format, &budget); err != nil {
			return nil, err
		}
	}
	for i, e := range p.Expectations {
		at := fmt.Sprintf("expectations[%d]", i)
		switch {
		case e.Feature == "":
			return nil, ferr(at+".feature", "missing")
		case e.Rule == "":
			return nil, ferr(at+".rule", "missing")
		case e.Violations < 0:
			return nil, ferr(at+".violations", "%d is negative", e.Violations)
		}
		for j, r := range e.FirstRows {
			if r < 0 {
				return nil, ferr(fmt.Sprintf("%s.first_rows[%d]", at, j), "%d is negative", r)
			}
		}
	}
	return &p, nil
}

func checkFeature(f *Feature, at, format string, budget *int) error {
	ferr := func(field, format string, args ...any) error {
		return &FieldError{Field: at + "." + field, Msg: fmt.Sprintf(format, args...)}
	}
	var t def.ValueType
	for _, c := range []def.ValueType{def.Int64, def.Double, def.Bool, def.String, def.Timestamp} {
		if f.Type == c.String() {
			t = c
		}
	}
	if t == def.TypeUnspecified {
		return ferr("type", "%q is not a value type (want INT64, DOUBLE, BOOL, STRING or TIMESTAMP)", f.Type)
	}
	switch {
	case f.Count < 0:
		return ferr("count", "%d is negative", f.Count)
	case f.Nulls < 0:
		return ferr("nulls", "%d is negative", f.Nulls)
	case f.NaN < 0 || f.NaN > f.Count:
		return ferr("nan", "%d is outside [0, count %d]", f.NaN, f.Count)
	case f.NaN > 0 && t != def.Double:
		return ferr("nan", "only DOUBLE features have NaN")
	}
	num := t == def.Int64 || t == def.Double || t == def.Timestamp
	if !num {
		for name, v := range map[string]*float64{"min": f.Min, "max": f.Max, "mean": f.Mean, "stddev": f.Stddev} {
			if v != nil {
				return ferr(name, "only numeric features have it")
			}
		}
		if len(f.Quantiles) > 0 {
			return ferr("quantiles", "only numeric features have them")
		}
		if f.Sketch != nil {
			return ferr("sketch", "only numeric features have one")
		}
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		return ferr("min", "%v is above max %v", *f.Min, *f.Max)
	}
	if f.Stddev != nil && *f.Stddev < 0 {
		return ferr("stddev", "%v is negative", *f.Stddev)
	}
	for k := range f.Quantiles {
		known := false
		for _, q := range quantileKeys {
			known = known || q.key == k
		}
		if !known {
			return ferr("quantiles", "%q is not one of p01, p05, p25, p50, p75, p95, p99", k)
		}
	}
	if (f.True != nil || f.False != nil) && t != def.Bool {
		return ferr("true", "only BOOL features have true and false counts")
	}
	if f.True != nil && (*f.True < 0 || *f.True > f.Count) {
		return ferr("true", "%d is outside [0, count %d]", *f.True, f.Count)
	}
	if f.False != nil && (*f.False < 0 || *f.False > f.Count || f.True != nil && *f.True+*f.False != f.Count) {
		return ferr("false", "%d is outside [0, count %d] or with true does not make count", *f.False, f.Count)
	}
	if (f.Distinct != nil || len(f.Top) > 0) && t != def.String && t != def.Int64 {
		return ferr("top", "only STRING and INT64 features have top values and distinct counts")
	}
	if f.Distinct != nil && *f.Distinct < 0 {
		return ferr("distinct", "%d is negative", *f.Distinct)
	}
	if f.TopError < 0 {
		return ferr("top_error", "%d is negative", f.TopError)
	}
	var sum int64
	for i, tv := range f.Top {
		if tv.Count < 0 || tv.Count > f.Count-sum {
			return ferr(fmt.Sprintf("top[%d].count", i), "%d is negative or the top counts exceed count %d", tv.Count, f.Count)
		}
		sum += tv.Count
		if t == def.Int64 {
			if _, err := strconv.ParseInt(tv.Value, 10, 64); err != nil {
				return ferr(fmt.Sprintf("top[%d].value", i), "%q is not a decimal INT64", tv.Value)
			}
		}
	}
	if f.Sketch != nil {
		s, err := decodeSketch(f.Sketch, budget)
		if err != nil {
			return ferr("sketch", "%v", err)
		}
		f.sketch = s
	}
	return nil
}

// decodeSketch checks a written sketch before the library sees it: the
// library trusts its input (a store spanning 2^31 indexes would be
// allocated whole).
func decodeSketch(s *Sketch, budget *int) (*ddsketch.DDSketch, error) {
	if !(s.RelativeAccuracy > 0 && s.RelativeAccuracy < 1) {
		return nil, fmt.Errorf("relative_accuracy %v is outside (0, 1)", s.RelativeAccuracy)
	}
	if s.MaxBins < 1 || s.MaxBins > maxSketchSpan {
		return nil, fmt.Errorf("max_bins %d is outside [1, %d]", s.MaxBins, maxSketchSpan)
	}
	if s.Outside < 0 {
		return nil, fmt.Errorf("outside %d is negative", s.Outside)
	}
	var pb sketchpb.DDSketch
	if err := proto.Unmarshal(s.DDSketch, &pb); err != nil {
		return nil, fmt.Errorf("ddsketch: not a sketchpb.DDSketch: %v", err)
	}
	m := pb.GetMapping()
	switch {
	case m == nil:
		return nil, errors.New("ddsketch: no index mapping")
	case !(m.Gamma >= 1.0001 && m.Gamma <= 2):
		return nil, fmt.Errorf("ddsketch: gamma %v is outside [1.0001, 2]", m.Gamma)
	case !(math.Abs(m.IndexOffset) <= 1<<20):
		return nil, fmt.Errorf("ddsketch: index offset %v is outside ±2^20", m.IndexOffset)
	case m.Interpolation != sketchpb.IndexMapping_NONE && m.Interpolation != sketchpb.IndexMapping_LINEAR && m.Interpolation != sketchpb.IndexMapping_CUBIC:
		return nil, fmt.Errorf("ddsketch: interpolation %d is unknown", m.Interpolation)
	case !(pb.ZeroCount >= 0 && pb.ZeroCount <= maxSketchCount):
		return nil, fmt.Errorf("ddsketch: zero count %v is outside [0, 1e18]", pb.ZeroCount)
	}
	total := pb.ZeroCount
	for _, st := range []struct {
		name string
		s    *sketchpb.Store
	}{{"positive", pb.GetPositiveValues()}, {"negative", pb.GetNegativeValues()}} {
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		check := func(i int64, n float64) error {
			if !(n >= 0 && n <= maxSketchCount) {
				return fmt.Errorf("ddsketch: %s bin %d count %v is outside [0, 1e18]", st.name, i, n)
			}
			if i < math.MinInt32 || i > math.MaxInt32 {
				return fmt.Errorf("ddsketch: %s bin index %d is outside int32", st.name, i)
			}
			total += n
			lo, hi = min(lo, i), max(hi, i)
			return nil
		}
		for i, n := range st.s.GetBinCounts() {
			if err := check(int64(i), n); err != nil {
				return nil, err
			}
		}
		cs := st.s.GetContiguousBinCounts()
		if len(cs) > maxSketchSpan {
			return nil, fmt.Errorf("ddsketch: %s store has %d contiguous bins (at most %d)", st.name, len(cs), maxSketchSpan)
		}
		for j, n := range cs {
			if err := check(int64(st.s.GetContiguousBinIndexOffset())+int64(j), n); err != nil {
				return nil, err
			}
		}
		if lo <= hi {
			span := hi - lo + 1
			if span > maxSketchSpan {
				return nil, fmt.Errorf("ddsketch: %s store spans %d bins (at most %d)", st.name, span, maxSketchSpan)
			}
			if *budget -= int(span); *budget < 0 {
				return nil, errors.New("ddsketch: the profile's sketches span more bins than its size allows")
			}
		}
	}
	if !(total <= maxSketchCount) {
		return nil, errors.New("ddsketch: counts add up beyond 1e18")
	}
	sk, err := ddsketch.FromProto(&pb)
	if err != nil {
		return nil, fmt.Errorf("ddsketch: %v", err)
	}
	return sk, nil
}
