package compute

import (
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fstore/fstore/featurestore/def"
)

// funcDef is one built-in function: check types the call (setting n.typ,
// inserting promotions into n.args, resolving constant arguments into
// n.extra) and eval computes it over columns.
type funcDef struct {
	name  string
	doc   string
	check func(n *node) error
	eval  func(ev *Evaluator, n *node, args []*Column, out *Column, rows int)
}

// functions is the function table. Every entry's doc states its types and
// its null, NaN and edge-case behaviour; FunctionDocs exposes them.
var functions = map[string]*funcDef{}

var castFuncs = map[def.ValueType]*funcDef{}

func register(f *funcDef) { functions[f.name] = f }

func functionNames() []string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FunctionDocs returns "name: doc" for every built-in function, sorted.
func FunctionDocs() []string {
	var out []string
	for _, n := range functionNames() {
		out = append(out, n+": "+functions[n].doc)
	}
	return out
}

func nargs(n *node, min, max int) error {
	if len(n.args) < min || (max >= 0 && len(n.args) > max) {
		switch {
		case min == max:
			return argErrorf(-1, "takes %d argument(s), got %d", min, len(n.args))
		case max < 0:
			return argErrorf(-1, "takes at least %d arguments, got %d", min, len(n.args))
		}
		return argErrorf(-1, "takes %d to %d arguments, got %d", min, max, len(n.args))
	}
	return nil
}

func wantNumeric(n *node, i int) error {
	if !isNumeric(n.args[i].typ) {
		return argErrorf(i, "argument %d is %s, want INT64 or DOUBLE", i+1, n.args[i].typ)
	}
	return nil
}

func want(n *node, i int, t def.ValueType) error {
	if n.args[i].typ != t {
		return argErrorf(i, "argument %d is %s, want %s", i+1, n.args[i].typ, t)
	}
	return nil
}

// unifyArgs promotes the arguments from `from` on to one common type.
func unifyArgs(n *node, from int) (def.ValueType, error) {
	t := n.args[from].typ
	for i := from + 1; i < len(n.args); i++ {
		c, ok := common(t, n.args[i].typ)
		if !ok {
			return 0, argErrorf(i, "argument %d is %s, which does not mix with %s", i+1, n.args[i].typ, t)
		}
		t = c
	}
	for i := from; i < len(n.args); i++ {
		n.args[i] = promote(n.args[i], t)
	}
	return t, nil
}

// evalFloat applies a float → float function to column a, propagating nulls.
func evalFloat(f func(float64) float64, a, out *Column, rows int) {
	out.reset(def.Double, rows)
	src := a.F64[:rows]
	for i := range out.F64 {
		out.F64[i] = f(src[i])
	}
	out.Valid = a.Valid
}

// mapFloat makes an eval function of a float → float function, once, at
// registration.
func mapFloat(f func(float64) float64) func(*Evaluator, *node, []*Column, *Column, int) {
	return func(_ *Evaluator, _ *node, args []*Column, out *Column, rows int) { evalFloat(f, args[0], out, rows) }
}

func floatUnary(name, doc string, f func(float64) float64) {
	register(&funcDef{name: name, doc: doc,
		check: func(n *node) error {
			if err := nargs(n, 1, 1); err != nil {
				return err
			}
			if err := wantNumeric(n, 0); err != nil {
				return err
			}
			n.args[0] = promote(n.args[0], def.Double)
			n.typ = def.Double
			return nil
		},
		eval: mapFloat(f),
	})
}

// roundingFunc is floor, ceil or round: identity on INT64, f on DOUBLE.
func roundingFunc(name, doc string, f func(float64) float64) {
	register(&funcDef{name: name, doc: doc,
		check: func(n *node) error {
			if err := nargs(n, 1, 1); err != nil {
				return err
			}
			if err := wantNumeric(n, 0); err != nil {
				return err
			}
			n.typ = n.args[0].typ
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			if n.typ == def.Int64 {
				out.reset(def.Int64, rows)
				copy(out.I64, args[0].I64[:rows])
				out.Valid = args[0].Valid
				return
			}
			evalFloat(f, args[0], out, rows)
		},
	})
}

func init() {
	register(&funcDef{name: "abs", doc: "abs(x INT64|DOUBLE) → same type. abs(MinInt64) wraps to MinInt64; abs(NaN) is NaN.",
		check: func(n *node) error {
			if err := nargs(n, 1, 1); err != nil {
				return err
			}
			if err := wantNumeric(n, 0); err != nil {
				return err
			}
			n.typ = n.args[0].typ
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			if n.typ == def.Double {
				evalFloat(math.Abs, args[0], out, rows)
				return
			}
			out.reset(def.Int64, rows)
			src := args[0].I64[:rows]
			for i, v := range src {
				if v < 0 {
					v = -v
				}
				out.I64[i] = v
			}
			out.Valid = args[0].Valid
		},
	})
	floatUnary("log", "log(x) → DOUBLE, natural logarithm. log(0) = -Inf, log(x<0) = NaN (IEEE 754).", math.Log)
	floatUnary("log1p", "log1p(x) → DOUBLE, log(1+x), accurate near 0. log1p(-1) = -Inf, log1p(x<-1) = NaN.", math.Log1p)
	floatUnary("exp", "exp(x) → DOUBLE. Overflows to +Inf.", math.Exp)
	floatUnary("sqrt", "sqrt(x) → DOUBLE. sqrt(x<0) = NaN.", math.Sqrt)
	roundingFunc("floor", "floor(x) → same type; the identity on INT64.", math.Floor)
	roundingFunc("ceil", "ceil(x) → same type; the identity on INT64.", math.Ceil)
	roundingFunc("round", "round(x) → same type, halves away from zero (round(-2.5) = -3); the identity on INT64.", math.Round)

	register(&funcDef{name: "pow", doc: "pow(x, y) → DOUBLE, as Go's math.Pow (pow(0, -1) = +Inf, pow(-8, 1/3.0) = NaN).",
		check: func(n *node) error {
			if err := nargs(n, 2, 2); err != nil {
				return err
			}
			for i := range n.args {
				if err := wantNumeric(n, i); err != nil {
					return err
				}
				n.args[i] = promote(n.args[i], def.Double)
			}
			n.typ = def.Double
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(def.Double, rows)
			x, y := args[0].F64[:rows], args[1].F64[:rows]
			for i := range out.F64 {
				out.F64[i] = math.Pow(x[i], y[i])
			}
			ev.and(n, out, args...)
		},
	})

	for _, mm := range []struct {
		name string
		less bool
	}{{"min", true}, {"max", false}} {
		less := mm.less
		register(&funcDef{name: mm.name, doc: mm.name + "(a, b, …) → the common type of its arguments (INT64 and DOUBLE mix to DOUBLE; STRING and TIMESTAMP compare among themselves). Null if any argument is null; NaN if any is NaN.",
			check: func(n *node) error {
				if err := nargs(n, 2, -1); err != nil {
					return err
				}
				t, err := unifyArgs(n, 0)
				if err != nil {
					return err
				}
				if t == def.Bool {
					return argErrorf(0, "BOOL values have no order")
				}
				n.typ = t
				return nil
			},
			eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
				out.reset(n.typ, rows)
				switch n.typ {
				case def.Double:
					copy(out.F64, args[0].F64[:rows])
					for _, a := range args[1:] {
						src := a.F64[:rows]
						for i := range out.F64 {
							if less {
								out.F64[i] = math.Min(out.F64[i], src[i])
							} else {
								out.F64[i] = math.Max(out.F64[i], src[i])
							}
						}
					}
				case def.Int64, def.Timestamp:
					copy(out.I64, args[0].I64[:rows])
					for _, a := range args[1:] {
						src := a.I64[:rows]
						for i := range out.I64 {
							if (src[i] < out.I64[i]) == less && src[i] != out.I64[i] {
								out.I64[i] = src[i]
							}
						}
					}
				case def.String:
					copy(out.S, args[0].S[:rows])
					for _, a := range args[1:] {
						src := a.S[:rows]
						for i := range out.S {
							if (src[i] < out.S[i]) == less && src[i] != out.S[i] {
								out.S[i] = src[i]
							}
						}
					}
				}
				ev.and(n, out, args...)
			},
		})
	}

	register(&funcDef{name: "clip", doc: "clip(x, lo, hi) → the common numeric type: min(max(x, lo), hi), so hi wins when lo > hi. Null if any argument is null.",
		check: func(n *node) error {
			if err := nargs(n, 3, 3); err != nil {
				return err
			}
			for i := range n.args {
				if err := wantNumeric(n, i); err != nil {
					return err
				}
			}
			t, err := unifyArgs(n, 0)
			n.typ = t
			return err
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(n.typ, rows)
			if n.typ == def.Double {
				x, lo, hi := args[0].F64[:rows], args[1].F64[:rows], args[2].F64[:rows]
				for i := range out.F64 {
					out.F64[i] = math.Min(math.Max(x[i], lo[i]), hi[i])
				}
			} else {
				x, lo, hi := args[0].I64[:rows], args[1].I64[:rows], args[2].I64[:rows]
				for i := range out.I64 {
					out.I64[i] = min(max(x[i], lo[i]), hi[i])
				}
			}
			ev.and(n, out, args...)
		},
	})

	register(&funcDef{name: "if", doc: "if(cond BOOL, a, b) → the common type of a and b: a where cond is true, b where it is false or null (as SQL's CASE WHEN).",
		check: func(n *node) error {
			if err := nargs(n, 3, 3); err != nil {
				return err
			}
			if err := want(n, 0, def.Bool); err != nil {
				return err
			}
			t, err := unifyArgs(n, 1)
			n.typ = t
			return err
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(n.typ, rows)
			cond, a, b := args[0], args[1], args[2]
			switch n.typ {
			case def.Int64, def.Timestamp:
				selectKernel(out.I64, cond, a.I64, b.I64)
			case def.Double:
				selectKernel(out.F64, cond, a.F64, b.F64)
			case def.Bool:
				selectKernel(out.B, cond, a.B, b.B)
			case def.String:
				selectKernel(out.S, cond, a.S, b.S)
			}
			if a.Valid == nil && b.Valid == nil {
				out.Valid = nil
				return
			}
			v := out.allValid(&ev.spare[n.id], rows)
			for i := 0; i < rows; i++ {
				src := b
				if cond.B[i] && cond.Valid.Get(i) {
					src = a
				}
				if !src.Valid.Get(i) {
					v.Clear(i)
				}
			}
		},
	})

	register(&funcDef{name: "coalesce", doc: "coalesce(a, b, …) → the common type: the first non-null argument, null if all are.",
		check: func(n *node) error {
			if err := nargs(n, 1, -1); err != nil {
				return err
			}
			t, err := unifyArgs(n, 0)
			n.typ = t
			return err
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(n.typ, rows)
			v := out.allValid(&ev.spare[n.id], rows)
			for i := 0; i < rows; i++ {
				found := false
				for _, a := range args {
					if a.Valid.Get(i) {
						copyRow(out, i, a, i)
						found = true
						break
					}
				}
				if !found {
					v.Clear(i)
				}
			}
		},
	})

	register(&funcDef{name: "is_null", doc: "is_null(x) → BOOL, never null.",
		check: func(n *node) error {
			if err := nargs(n, 1, 1); err != nil {
				return err
			}
			n.typ = def.Bool
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(def.Bool, rows)
			for i := range out.B {
				out.B[i] = !args[0].Valid.Get(i)
			}
		},
	})

	register(&funcDef{name: "bucketize", doc: "bucketize(x, b1, b2, …) → INT64: the number of boundaries <= x, so 0 below b1 and k above bk. Boundaries are numeric constants in strictly ascending order. Null for a null or NaN x.",
		check: func(n *node) error {
			if err := nargs(n, 2, -1); err != nil {
				return err
			}
			if err := wantNumeric(n, 0); err != nil {
				return err
			}
			n.extra = make([]float64, 0, len(n.args)-1)
			for i := 1; i < len(n.args); i++ {
				b, err := constNumber(n, i)
				if err != nil {
					return err
				}
				if len(n.extra) > 0 && b <= n.extra[len(n.extra)-1] {
					return argErrorf(i, "boundaries must ascend strictly: %v follows %v", b, n.extra[len(n.extra)-1])
				}
				n.extra = append(n.extra, b)
			}
			n.args = []*node{promote(n.args[0], def.Double)}
			n.typ = def.Int64
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(def.Int64, rows)
			x := args[0].F64[:rows]
			bounds := n.extra
			out.Valid = args[0].Valid
			var v Bitmap
			for i := range out.I64 {
				if math.IsNaN(x[i]) {
					if v == nil {
						v = ev.ownValid(n, out)
					}
					v.Clear(i)
					continue
				}
				out.I64[i] = int64(sort.Search(len(bounds), func(k int) bool { return bounds[k] > x[i] }))
			}
		},
	})

	register(&funcDef{name: "hash_bucket", doc: "hash_bucket(s STRING, n) → INT64 in [0, n): FNV-1a 64 of the UTF-8 bytes of s, modulo n, a positive INT64 constant. Stable across platforms and releases.",
		check: func(n *node) error {
			if err := nargs(n, 2, 2); err != nil {
				return err
			}
			if err := want(n, 0, def.String); err != nil {
				return err
			}
			if n.args[1].op != opConst || n.args[1].typ != def.Int64 || !n.args[1].val.valid || n.args[1].val.i <= 0 {
				return argErrorf(1, "the bucket count must be a positive INT64 constant")
			}
			n.extra = []float64{float64(n.args[1].val.i)}
			n.args = n.args[:1]
			n.typ = def.Int64
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(def.Int64, rows)
			buckets := uint64(n.extra[0])
			for i, s := range args[0].S[:rows] {
				out.I64[i] = int64(HashString(s) % buckets)
			}
			out.Valid = args[0].Valid
		},
	})

	register(&funcDef{name: "len", doc: "len(s STRING) → INT64, the number of Unicode code points (invalid UTF-8 bytes count one each).",
		check: stringFunc(def.Int64),
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(def.Int64, rows)
			for i, s := range args[0].S[:rows] {
				out.I64[i] = int64(utf8.RuneCountInString(s))
			}
			out.Valid = args[0].Valid
		},
	})
	register(&funcDef{name: "lower", doc: "lower(s STRING) → STRING, Unicode lower case.",
		check: stringFunc(def.String),
		eval:  mapString(strings.ToLower),
	})
	register(&funcDef{name: "upper", doc: "upper(s STRING) → STRING, Unicode upper case.",
		check: stringFunc(def.String),
		eval:  mapString(strings.ToUpper),
	})
	register(&funcDef{name: "contains", doc: "contains(s, sub STRING) → BOOL: whether sub occurs in s (every s contains \"\").",
		check: func(n *node) error {
			if err := nargs(n, 2, 2); err != nil {
				return err
			}
			if err := want(n, 0, def.String); err != nil {
				return err
			}
			if err := want(n, 1, def.String); err != nil {
				return err
			}
			n.typ = def.Bool
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(def.Bool, rows)
			sub := args[1].S[:rows]
			for i, s := range args[0].S[:rows] {
				out.B[i] = strings.Contains(s, sub[i])
			}
			ev.and(n, out, args...)
		},
	})

	timePart("hour", "hour(t TIMESTAMP) → INT64 in [0, 23], UTC.", func(us int64) int64 {
		return floorMod(floorDiv(us, int64(time.Hour/time.Microsecond)), 24)
	})
	timePart("day_of_week", "day_of_week(t TIMESTAMP) → INT64, ISO 8601: 1 = Monday … 7 = Sunday, UTC.", func(us int64) int64 {
		days := floorDiv(us, 86_400_000_000)
		return floorMod(days+3, 7) + 1 // 1970-01-01 was a Thursday (4)
	})
	timePart("day_of_month", "day_of_month(t TIMESTAMP) → INT64 in [1, 31], UTC.", func(us int64) int64 {
		_, _, d := civil(floorDiv(us, 86_400_000_000))
		return d
	})

	for _, c := range []struct {
		name string
		to   def.ValueType
		doc  string
	}{
		{"int", def.Int64, "int(x) → INT64. From DOUBLE: truncates toward zero; NaN, ±Inf and values outside int64 are null. From STRING: base-10 parse, spaces trimmed, null if it fails. From BOOL: 1 or 0. From TIMESTAMP: microseconds since the epoch."},
		{"float", def.Double, "float(x) → DOUBLE (double(x) is the same). From STRING: parse (spaces trimmed; NaN and Inf are accepted), null if it fails. From BOOL: 1 or 0. From TIMESTAMP: microseconds since the epoch."},
		{"double", def.Double, "double(x): see float."},
		{"string", def.String, "string(x) → STRING. INT64 in base 10; DOUBLE in the shortest form that parses back exactly ('g'); BOOL as true/false; TIMESTAMP as RFC 3339 with microseconds (2006-01-02T15:04:05.000000Z)."},
		{"bool", def.Bool, "bool(x) → BOOL. Numbers: x != 0 (NaN is null). STRING, spaces trimmed: 1 t T TRUE true True or 0 f F FALSE false False, null otherwise."},
		{"timestamp", def.Timestamp, "timestamp(x) → TIMESTAMP. From INT64: microseconds since the epoch. From STRING: RFC 3339, null if it fails."},
	} {
		f := castFunc(c.name, c.to, c.doc)
		register(f)
		if c.name != "double" {
			castFuncs[c.to] = f
		}
	}
}

// HashString is the stable hash behind hash_bucket: 64-bit FNV-1a.
func HashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func stringFunc(result def.ValueType) func(n *node) error {
	return func(n *node) error {
		if err := nargs(n, 1, 1); err != nil {
			return err
		}
		if err := want(n, 0, def.String); err != nil {
			return err
		}
		n.typ = result
		return nil
	}
}

func mapString(f func(string) string) func(*Evaluator, *node, []*Column, *Column, int) {
	return func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
		out.reset(def.String, rows)
		for i, s := range args[0].S[:rows] {
			out.S[i] = f(s)
		}
		out.Valid = args[0].Valid
	}
}

func timePart(name, doc string, f func(int64) int64) {
	register(&funcDef{name: name, doc: doc,
		check: func(n *node) error {
			if err := nargs(n, 1, 1); err != nil {
				return err
			}
			if err := want(n, 0, def.Timestamp); err != nil {
				return err
			}
			n.typ = def.Int64
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			out.reset(def.Int64, rows)
			for i, us := range args[0].I64[:rows] {
				out.I64[i] = f(us)
			}
			out.Valid = args[0].Valid
		},
	})
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse), without allocating.
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func constNumber(n *node, i int) (float64, error) {
	a := n.args[i]
	if a.op != opConst || !isNumeric(a.typ) || !a.val.valid {
		return 0, argErrorf(i, "argument %d must be a numeric constant", i+1)
	}
	if a.typ == def.Int64 {
		return float64(a.val.i), nil
	}
	if math.IsNaN(a.val.f) {
		return 0, argErrorf(i, "argument %d is NaN", i+1)
	}
	return a.val.f, nil
}

// selectKernel sets dst[i] to a[i] where cond is true and valid, else b[i].
func selectKernel[T any](dst []T, cond *Column, a, b []T) {
	c := cond.B[:len(dst)]
	a, b = a[:len(dst)], b[:len(dst)]
	if cond.Valid == nil {
		for i := range dst {
			if c[i] {
				dst[i] = a[i]
			} else {
				dst[i] = b[i]
			}
		}
		return
	}
	for i := range dst {
		if c[i] && cond.Valid.Get(i) {
			dst[i] = a[i]
		} else {
			dst[i] = b[i]
		}
	}
}

// copyRow copies row j of src into row i of dst (same type).
func copyRow(dst *Column, i int, src *Column, j int) {
	switch dst.Type {
	case def.Int64, def.Timestamp:
		dst.I64[i] = src.I64[j]
	case def.Double:
		dst.F64[i] = src.F64[j]
	case def.Bool:
		dst.B[i] = src.B[j]
	case def.String:
		dst.S[i] = src.S[j]
	}
}

const timestampLayout = "2006-01-02T15:04:05.000000Z07:00"

func castFunc(name string, to def.ValueType, doc string) *funcDef {
	return &funcDef{name: name, doc: doc,
		check: func(n *node) error {
			if err := nargs(n, 1, 1); err != nil {
				return err
			}
			from := n.args[0].typ
			if to == def.Timestamp && from != def.Int64 && from != def.String && from != def.Timestamp {
				return argErrorf(0, "cannot convert %s to TIMESTAMP", from)
			}
			if from == def.Timestamp && (to == def.Bool) {
				return argErrorf(0, "cannot convert TIMESTAMP to BOOL")
			}
			n.typ = to
			return nil
		},
		eval: func(ev *Evaluator, n *node, args []*Column, out *Column, rows int) {
			a := args[0]
			out.reset(to, rows)
			out.Valid = a.Valid
			var v Bitmap
			null := func(i int) {
				if v == nil {
					v = ev.ownValid(n, out)
				}
				v.Clear(i)
			}
			for i := 0; i < rows; i++ {
				if !a.Valid.Get(i) {
					continue
				}
				if !convert(out, i, a, i) {
					null(i)
				}
			}
		},
	}
}

// convert converts row j of src into row i of dst, reporting false when
// the value has no representation in dst's type (the row becomes null).
func convert(dst *Column, i int, src *Column, j int) bool {
	switch dst.Type {
	case def.Int64, def.Timestamp:
		switch src.Type {
		case def.Int64, def.Timestamp:
			dst.I64[i] = src.I64[j]
		case def.Double:
			f := src.F64[j]
			if math.IsNaN(f) || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
				return false
			}
			dst.I64[i] = int64(f)
		case def.Bool:
			dst.I64[i] = b2i(src.B[j])
		case def.String:
			if dst.Type == def.Timestamp {
				t, err := time.Parse(time.RFC3339Nano, src.S[j])
				if err != nil {
					return false
				}
				dst.I64[i] = t.UnixMicro()
				return true
			}
			v, err := strconv.ParseInt(strings.TrimSpace(src.S[j]), 10, 64)
			if err != nil {
				return false
			}
			dst.I64[i] = v
		}
	case def.Double:
		switch src.Type {
		case def.Int64, def.Timestamp:
			dst.F64[i] = float64(src.I64[j])
		case def.Double:
			dst.F64[i] = src.F64[j]
		case def.Bool:
			dst.F64[i] = float64(b2i(src.B[j]))
		case def.String:
			v, err := strconv.ParseFloat(strings.TrimSpace(src.S[j]), 64)
			if err != nil {
				return false
			}
			dst.F64[i] = v
		}
	case def.Bool:
		switch src.Type {
		case def.Int64:
			dst.B[i] = src.I64[j] != 0
		case def.Double:
			if math.IsNaN(src.F64[j]) {
				return false
			}
			dst.B[i] = src.F64[j] != 0
		case def.Bool:
			dst.B[i] = src.B[j]
		case def.String:
			v, err := strconv.ParseBool(strings.TrimSpace(src.S[j]))
			if err != nil {
				return false
			}
			dst.B[i] = v
		}
	case def.String:
		switch src.Type {
		case def.Int64:
			dst.S[i] = strconv.FormatInt(src.I64[j], 10)
		case def.Double:
			dst.S[i] = strconv.FormatFloat(src.F64[j], 'g', -1, 64)
		case def.Bool:
			dst.S[i] = strconv.FormatBool(src.B[j])
		case def.String:
			dst.S[i] = src.S[j]
		case def.Timestamp:
			dst.S[i] = time.UnixMicro(src.I64[j]).UTC().Format(timestampLayout)
		}
	}
	return true
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
