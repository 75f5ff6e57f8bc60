package serve

import (
	"math"
	"strconv"
)

// oipRange is the set of values one OIP datatype holds, checked on every
// element of an inference request before it becomes the model's float32
// input: an INT8 300 or 1.5, or an FP32 1e400 (which float32 makes +Inf),
// is refused naming the element rather than silently fed to the model.
// NaN is the model's missing value (what null means in JSON; gRPC has no
// null), so it is taken for the floating-point datatypes.
type oipRange struct {
	dt string
	// integer: only integers in [lo, hi) (exclusive, so that INT64's and
	// UINT64's bounds are exact in float64).
	integer bool
	lo, hi  float64
}

// oipRangeOf returns dt's range; dt is one of oipDatatype's.
func oipRangeOf(dt string) oipRange {
	r := oipRange{dt: dt, integer: true}
	switch dt {
	case "INT8":
		r.lo, r.hi = -1<<7, 1<<7
	case "INT16":
		r.lo, r.hi = -1<<15, 1<<15
	case "INT32":
		r.lo, r.hi = -1<<31, 1<<31
	case "INT64":
		r.lo, r.hi = -1<<63, 1<<63
	case "UINT8", "BOOL":
		r.lo, r.hi = 0, 1<<8
	case "UINT16":
		r.lo, r.hi = 0, 1<<16
	case "UINT32":
		r.lo, r.hi = 0, 1<<32
	case "UINT64":
		r.lo, r.hi = 0, 1<<64
	default: // FP32, FP64: finite in float32, the model's input type
		r.integer = false
	}
	if dt == "BOOL" {
		r.hi = 2
	}
	return r
}

// ok reports whether f is a value of the datatype.
func (r oipRange) ok(f float64) bool {
	if r.integer {
		return f >= r.lo && f < r.hi && f == math.Trunc(f)
	}
	return math.IsNaN(f) || !math.IsInf(float64(float32(f)), 0)
}

// problem says why f, written text in the request ("" to format f), is
// not a value of the datatype; only for f that ok refuses.
func (r oipRange) problem(f float64, text string) string {
	if text == "" {
		text = strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch {
	case r.dt == "BOOL":
		return text + " is not a BOOL (want 0 or 1)"
	case r.integer && (math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f)) && !(f < r.lo || f >= r.hi):
		return text + " is not an integer (datatype " + r.dt + ")"
	case r.integer:
		return text + " is outside " + r.dt + "'s range [" + strconv.FormatInt(int64(r.lo), 10) + ", " + maxInt(r.hi) + "]"
	case r.dt == "FP32" || math.IsInf(f, 0):
		return text + " is outside " + r.dt + "'s finite range (send NaN or null for a missing value)"
	}
	return text + " is outside the range of the model's FP32 inputs (±3.4028235e+38)"
}

// maxInt writes hi - 1 for an exclusive integer bound hi (a power of
// two, which float64 holds exactly, unlike 2^63 - 1).
func maxInt(hi float64) string {
	switch hi {
	case 1 << 63:
		return "9223372036854775807"
	case 1 << 64:
		return "18446744073709551615"
	}
	return strconv.FormatFloat(hi-1, 'f', -1, 64)
}
