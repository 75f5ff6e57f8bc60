package compute

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fstore/fstore/featurestore/def"
)

// This file is a deliberately naive reference: random typed expression
// trees that render to source text and evaluate themselves row by row with
// plain Go values. It shares no code with the compiler or the kernels.

// rv is one reference value; v is int64, float64, bool or string (also for
// timestamps, as int64 microseconds).
type rv struct {
	null bool
	v    any
}

var null = rv{null: true}

type gnode struct {
	typ  def.ValueType
	text string
	eval func(row int) rv
}

type gen struct {
	r      *rand.Rand
	schema []def.Field
	cols   [][]rv // cols[c][row]
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) columnOf(t def.ValueType) (gnode, bool) {
	var idx []int
	for i, f := range g.schema {
		if f.Type == t {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return gnode{}, false
	}
	c := idx[g.pick(len(idx))]
	col := g.cols[c]
	return gnode{typ: t, text: g.schema[c].Name, eval: func(row int) rv { return col[row] }}, true
}

var interestingInts = []int64{0, 1, -1, 2, 3, 7, 100, -100, math.MaxInt64, math.MinInt64, math.MaxInt32}
var interestingFloats = []float64{0, 1, -1, 0.5, 2.5, -2.5, 100, 1e-9, 1e300, -1e300}

func (g *gen) literal(t def.ValueType) gnode {
	switch t {
	case def.Int64:
		v := interestingInts[g.pick(len(interestingInts))]
		if g.pick(2) == 0 {
			v = int64(g.pick(50)) - 10
		}
		if v < 0 {
			// A negative literal is a unary minus in Go syntax; MinInt64
			// cannot be written, so use its neighbour.
			if v == math.MinInt64 {
				v++
			}
			return gnode{typ: t, text: fmt.Sprintf("(%d)", v), eval: func(int) rv { return rv{v: v} }}
		}
		return gnode{typ: t, text: strconv.FormatInt(v, 10), eval: func(int) rv { return rv{v: v} }}
	case def.Double:
		v := interestingFloats[g.pick(len(interestingFloats))]
		if g.pick(2) == 0 {
			v = math.Round(g.r.NormFloat64()*1000) / 100
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return gnode{typ: t, text: "(" + s + ")", eval: func(int) rv { return rv{v: v} }}
	case def.Bool:
		v := g.pick(2) == 0
		return gnode{typ: t, text: strconv.FormatBool(v), eval: func(int) rv { return rv{v: v} }}
	case def.String:
		vals := []string{"", "a", "business", "Ünïcode", "x y", "BIG"}
		v := vals[g.pick(len(vals))]
		return gnode{typ: t, text: strconv.Quote(v), eval: func(int) rv { return rv{v: v} }}
	}
	// Timestamps have no literal: timestamp(int).
	v := int64(g.pick(2_000_000_000)) * 1_000_000
	return gnode{typ: t, text: fmt.Sprintf("timestamp(%d)", v), eval: func(int) rv { return rv{v: v} }}
}

func (g *gen) expr(t def.ValueType, depth int) gnode {
	if depth <= 0 || g.pick(4) == 0 {
		if c, ok := g.columnOf(t); ok && g.pick(3) != 0 {
			return c
		}
		return g.literal(t)
	}
	d := depth - 1
	switch t {
	case def.Double:
		return g.double(d)
	case def.Int64:
		return g.int(d)
	case def.Bool:
		return g.bool(d)
	case def.String:
		return g.str(d)
	}
	return g.ts(d)
}

func (g *gen) num(d int) gnode {
	if g.pick(2) == 0 {
		return g.expr(def.Int64, d)
	}
	return g.expr(def.Double, d)
}

func toF(v rv) float64 {
	switch x := v.v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("toF(%T)", v.v))
}

func bin(a, b gnode, typ def.ValueType, op string, f func(x, y rv) rv) gnode {
	return gnode{typ: typ, text: "(" + a.text + " " + op + " " + b.text + ")", eval: func(r int) rv {
		x, y := a.eval(r), b.eval(r)
		if x.null || y.null {
			return null
		}
		return f(x, y)
	}}
}

func call(name string, typ def.ValueType, args []gnode, f func(vals []rv) rv) gnode {
	texts := make([]string, len(args))
	for i, a := range args {
		texts[i] = a.text
	}
	return gnode{typ: typ, text: name + "(" + strings.Join(texts, ", ") + ")", eval: func(r int) rv {
		vals := make([]rv, len(args))
		for i, a := range args {
			vals[i] = a.eval(r)
		}
		return f(vals)
	}}
}

// strict wraps f so that any null argument gives null.
func strict(f func(vals []rv) rv) func([]rv) rv {
	return func(vals []rv) rv {
		for _, v := range vals {
			if v.null {
				return null
			}
		}
		return f(vals)
	}
}

func (g *gen) double(d int) gnode {
	switch g.pick(14) {
	case 0, 1:
		a, b := g.num(d), g.num(d)
		if a.typ == def.Int64 && b.typ == def.Int64 {
			b = g.expr(def.Double, d)
		}
		op := []string{"+", "-", "*", "/"}[g.pick(4)]
		return bin(a, b, def.Double, op, func(x, y rv) rv {
			p, q := toF(x), toF(y)
			switch op {
			case "+":
				return rv{v: p + q}
			case "-":
				return rv{v: p - q}
			case "*":
				return rv{v: p * q}
			}
			return rv{v: p / q}
		})
	case 2:
		a := g.expr(def.Double, d)
		return gnode{typ: def.Double, text: "(-" + a.text + ")", eval: func(r int) rv {
			x := a.eval(r)
			if x.null {
				return null
			}
			return rv{v: -x.v.(float64)}
		}}
	case 3:
		fs := map[string]func(float64) float64{"log": math.Log, "log1p": math.Log1p, "exp": math.Exp, "sqrt": math.Sqrt}
		names := []string{"log", "log1p", "exp", "sqrt"}
		n := names[g.pick(len(names))]
		return call(n, def.Double, []gnode{g.num(d)}, strict(func(v []rv) rv { return rv{v: fs[n](toF(v[0]))} }))
	case 4:
		return call("pow", def.Double, []gnode{g.num(d), g.num(d)}, strict(func(v []rv) rv { return rv{v: math.Pow(toF(v[0]), toF(v[1]))} }))
	case 5:
		n := []string{"floor", "ceil", "round", "abs"}[g.pick(4)]
		f := map[string]func(float64) float64{"floor": math.Floor, "ceil": math.Ceil, "round": math.Round, "abs": math.Abs}[n]
		return call(n, def.Double, []gnode{g.expr(def.Double, d)}, strict(func(v []rv) rv { return rv{v: f(v[0].v.(float64))} }))
	case 6:
		less := g.pick(2) == 0
		name := map[bool]string{true: "min", false: "max"}[less]
		args := []gnode{g.expr(def.Double, d), g.num(d)}
		if g.pick(2) == 0 {
			args = append(args, g.num(d))
		}
		return call(name, def.Double, args, strict(func(v []rv) rv {
			acc := toF(v[0])
			for _, x := range v[1:] {
				if less {
					acc = math.Min(acc, toF(x))
				} else {
					acc = math.Max(acc, toF(x))
				}
			}
			return rv{v: acc}
		}))
	case 7:
		return call("clip", def.Double, []gnode{g.expr(def.Double, d), g.num(d), g.num(d)}, strict(func(v []rv) rv {
			return rv{v: math.Min(math.Max(toF(v[0]), toF(v[1])), toF(v[2]))}
		}))
	case 8:
		return g.ifOf(def.Double, d)
	case 9:
		return g.coalesceOf(def.Double, d)
	case 10:
		src := []def.ValueType{def.Int64, def.String, def.Bool, def.Double}[g.pick(4)]
		a := g.expr(src, d)
		return call("float", def.Double, []gnode{a}, strict(func(v []rv) rv {
			switch x := v[0].v.(type) {
			case int64:
				return rv{v: float64(x)}
			case float64:
				return rv{v: x}
			case bool:
				if x {
					return rv{v: 1.0}
				}
				return rv{v: 0.0}
			case string:
				f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
				if err != nil {
					return null
				}
				return rv{v: f}
			}
			return null
		}))
	}
	return g.expr(def.Double, 0)
}

func (g *gen) int(d int) gnode {
	switch g.pick(14) {
	case 0, 1:
		op := []string{"+", "-", "*", "/", "%"}[g.pick(5)]
		return bin(g.expr(def.Int64, d), g.expr(def.Int64, d), def.Int64, op, func(x, y rv) rv {
			p, q := x.v.(int64), y.v.(int64)
			switch op {
			case "+":
				return rv{v: p + q}
			case "-":
				return rv{v: p - q}
			case "*":
				return rv{v: p * q}
			}
			if q == 0 {
				return null
			}
			if op == "/" {
				if q == -1 {
					return rv{v: -p}
				}
				return rv{v: p / q}
			}
			if q == -1 {
				return rv{v: int64(0)}
			}
			return rv{v: p % q}
		})
	case 2:
		return call("abs", def.Int64, []gnode{g.expr(def.Int64, d)}, strict(func(v []rv) rv {
			x := v[0].v.(int64)
			if x < 0 {
				x = -x
			}
			return rv{v: x}
		}))
	case 3:
		return g.ifOf(def.Int64, d)
	case 4:
		return g.coalesceOf(def.Int64, d)
	case 5:
		bounds := []float64{-10, 0, 0.5, 3, 100}
		k := 1 + g.pick(len(bounds))
		chosen := bounds[:k]
		args := []gnode{g.num(d)}
		for _, b := range chosen {
			args = append(args, gnode{text: "(" + strconv.FormatFloat(b, 'g', -1, 64) + ")"})
		}
		texts := make([]string, len(args))
		for i, a := range args {
			texts[i] = a.text
		}
		x := args[0]
		return gnode{typ: def.Int64, text: "bucketize(" + strings.Join(texts, ", ") + ")", eval: func(r int) rv {
			v := x.eval(r)
			if v.null || math.IsNaN(toF(v)) {
				return null
			}
			n := int64(0)
			for _, b := range chosen {
				if b <= toF(v) {
					n++
				}
			}
			return rv{v: n}
		}}
	case 6:
		s := g.expr(def.String, d)
		n := int64(1 + g.pick(1000))
		return gnode{typ: def.Int64, text: fmt.Sprintf("hash_bucket(%s, %d)", s.text, n), eval: func(r int) rv {
			v := s.eval(r)
			if v.null {
				return null
			}
			h := fnv.New64a()
			h.Write([]byte(v.v.(string)))
			return rv{v: int64(h.Sum64() % uint64(n))}
		}}
	case 7:
		return call("len", def.Int64, []gnode{g.expr(def.String, d)}, strict(func(v []rv) rv { return rv{v: int64(utf8.RuneCountInString(v[0].v.(string)))} }))
	case 8:
		n := []string{"hour", "day_of_week", "day_of_month"}[g.pick(3)]
		return call(n, def.Int64, []gnode{g.expr(def.Timestamp, d)}, strict(func(v []rv) rv {
			t := time.UnixMicro(v[0].v.(int64)).UTC()
			switch n {
			case "hour":
				return rv{v: int64(t.Hour())}
			case "day_of_week":
				wd := int64(t.Weekday())
				if wd == 0 {
					wd = 7
				}
				return rv{v: wd}
			}
			return rv{v: int64(t.Day())}
		}))
	case 9:
		src := []def.ValueType{def.Double, def.String, def.Bool, def.Timestamp}[g.pick(4)]
		return call("int", def.Int64, []gnode{g.expr(src, d)}, strict(func(v []rv) rv {
			switch x := v[0].v.(type) {
			case int64:
				return rv{v: x}
			case float64:
				if math.IsNaN(x) || x >= math.Pow(2, 63) || x < -math.Pow(2, 63) {
					return null
				}
				return rv{v: int64(x)}
			case bool:
				if x {
					return rv{v: int64(1)}
				}
				return rv{v: int64(0)}
			case string:
				i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
				if err != nil {
					return null
				}
				return rv{v: i}
			}
			return null
		}))
	case 10:
		return bin(g.expr(def.Timestamp, d), g.expr(def.Timestamp, d), def.Int64, "-", func(x, y rv) rv { return rv{v: x.v.(int64) - y.v.(int64)} })
	case 11:
		less := g.pick(2) == 0
		name := map[bool]string{true: "min", false: "max"}[less]
		return call(name, def.Int64, []gnode{g.expr(def.Int64, d), g.expr(def.Int64, d)}, strict(func(v []rv) rv {
			a, b := v[0].v.(int64), v[1].v.(int64)
			if (b < a) == less && a != b {
				return rv{v: b}
			}
			return rv{v: a}
		}))
	}
	return g.expr(def.Int64, 0)
}

func (g *gen) bool(d int) gnode {
	switch g.pick(10) {
	case 0, 1:
		t := []def.ValueType{def.Int64, def.Double, def.String, def.Timestamp, def.Bool}[g.pick(5)]
		var a, b gnode
		if t == def.Double || t == def.Int64 {
			a, b = g.num(d), g.num(d)
		} else {
			a, b = g.expr(t, d), g.expr(t, d)
		}
		ops := []string{"==", "!=", "<", "<=", ">", ">="}
		if t == def.Bool {
			ops = ops[:2]
		}
		op := ops[g.pick(len(ops))]
		return bin(a, b, def.Bool, op, func(x, y rv) rv {
			var c int
			switch {
			case a.typ == def.Bool:
				eq := x.v.(bool) == y.v.(bool)
				return rv{v: eq == (op == "==")}
			case a.typ == def.String:
				c = strings.Compare(x.v.(string), y.v.(string))
			case a.typ == def.Timestamp || (a.typ == def.Int64 && b.typ == def.Int64):
				p, q := x.v.(int64), y.v.(int64)
				c = map[bool]int{true: -1, false: 0}[p < q] + map[bool]int{true: 1, false: 0}[p > q]
			default:
				p, q := toF(x), toF(y)
				switch op {
				case "==":
					return rv{v: p == q}
				case "!=":
					return rv{v: p != q}
				case "<":
					return rv{v: p < q}
				case "<=":
					return rv{v: p <= q}
				case ">":
					return rv{v: p > q}
				}
				return rv{v: p >= q}
			}
			switch op {
			case "==":
				return rv{v: c == 0}
			case "!=":
				return rv{v: c != 0}
			case "<":
				return rv{v: c < 0}
			case "<=":
				return rv{v: c <= 0}
			case ">":
				return rv{v: c > 0}
			}
			return rv{v: c >= 0}
		})
	case 2, 3:
		a, b := g.expr(def.Bool, d), g.expr(def.Bool, d)
		and := g.pick(2) == 0
		op := map[bool]string{true: "&&", false: "||"}[and]
		return gnode{typ: def.Bool, text: "(" + a.text + " " + op + " " + b.text + ")", eval: func(r int) rv {
			x, y := a.eval(r), b.eval(r)
			// Kleene logic, spelled out as truth tables.
			if and {
				if (!x.null && !x.v.(bool)) || (!y.null && !y.v.(bool)) {
					return rv{v: false}
				}
				if x.null || y.null {
					return null
				}
				return rv{v: true}
			}
			if (!x.null && x.v.(bool)) || (!y.null && y.v.(bool)) {
				return rv{v: true}
			}
			if x.null || y.null {
				return null
			}
			return rv{v: false}
		}}
	case 4:
		a := g.expr(def.Bool, d)
		return gnode{typ: def.Bool, text: "(!" + a.text + ")", eval: func(r int) rv {
			x := a.eval(r)
			if x.null {
				return null
			}
			return rv{v: !x.v.(bool)}
		}}
	case 5:
		t := []def.ValueType{def.Int64, def.Double, def.String, def.Timestamp, def.Bool}[g.pick(5)]
		a := g.expr(t, d)
		return gnode{typ: def.Bool, text: "is_null(" + a.text + ")", eval: func(r int) rv { return rv{v: a.eval(r).null} }}
	case 6:
		return call("contains", def.Bool, []gnode{g.expr(def.String, d), g.expr(def.String, d)}, strict(func(v []rv) rv {
			return rv{v: strings.Contains(v[0].v.(string), v[1].v.(string))}
		}))
	case 7:
		return g.ifOf(def.Bool, d)
	case 8:
		src := []def.ValueType{def.Int64, def.Double, def.String}[g.pick(3)]
		return call("bool", def.Bool, []gnode{g.expr(src, d)}, strict(func(v []rv) rv {
			switch x := v[0].v.(type) {
			case int64:
				return rv{v: x != 0}
			case float64:
				if math.IsNaN(x) {
					return null
				}
				return rv{v: x != 0}
			case string:
				b, err := strconv.ParseBool(strings.TrimSpace(x))
				if err != nil {
					return null
				}
				return rv{v: b}
			}
			return null
		}))
	}
	return g.expr(def.Bool, 0)
}

func (g *gen) str(d int) gnode {
	switch g.pick(7) {
	case 0:
		return bin(g.expr(def.String, d), g.expr(def.String, d), def.String, "+", func(x, y rv) rv { return rv{v: x.v.(string) + y.v.(string)} })
	case 1:
		n := []string{"lower", "upper"}[g.pick(2)]
		f := map[string]func(string) string{"lower": strings.ToLower, "upper": strings.ToUpper}[n]
		return call(n, def.String, []gnode{g.expr(def.String, d)}, strict(func(v []rv) rv { return rv{v: f(v[0].v.(string))} }))
	case 2:
		return g.ifOf(def.String, d)
	case 3:
		return g.coalesceOf(def.String, d)
	case 4:
		src := []def.ValueType{def.Int64, def.Double, def.Bool, def.Timestamp}[g.pick(4)]
		a := g.expr(src, d)
		return call("string", def.String, []gnode{a}, strict(func(v []rv) rv {
			switch x := v[0].v.(type) {
			case int64:
				if src == def.Timestamp {
					return rv{v: time.UnixMicro(x).UTC().Format("2006-01-02T15:04:05.000000Z07:00")}
				}
				return rv{v: strconv.FormatInt(x, 10)}
			case float64:
				return rv{v: strconv.FormatFloat(x, 'g', -1, 64)}
			case bool:
				return rv{v: strconv.FormatBool(x)}
			}
			return null
		}))
	}
	return g.expr(def.String, 0)
}

func (g *gen) ts(d int) gnode {
	switch g.pick(4) {
	case 0:
		return bin(g.expr(def.Timestamp, d), g.expr(def.Int64, d), def.Timestamp, "+", func(x, y rv) rv { return rv{v: x.v.(int64) + y.v.(int64)} })
	case 1:
		return g.ifOf(def.Timestamp, d)
	case 2:
		return g.coalesceOf(def.Timestamp, d)
	}
	return g.expr(def.Timestamp, 0)
}

func (g *gen) ifOf(t def.ValueType, d int) gnode {
	c, a, b := g.expr(def.Bool, d), g.expr(t, d), g.expr(t, d)
	return gnode{typ: t, text: "if(" + c.text + ", " + a.text + ", " + b.text + ")", eval: func(r int) rv {
		cv := c.eval(r)
		if !cv.null && cv.v.(bool) {
			return a.eval(r)
		}
		return b.eval(r)
	}}
}

func (g *gen) coalesceOf(t def.ValueType, d int) gnode {
	args := []gnode{g.expr(t, d), g.expr(t, d)}
	if g.pick(2) == 0 {
		args = append(args, g.expr(t, d))
	}
	return call("coalesce", t, args, func(v []rv) rv {
		for _, x := range v {
			if !x.null {
				return x
			}
		}
		return null
	})
}

// randomData builds a schema of random columns and rows rich in edge cases.
func randomData(r *rand.Rand, rows int) ([]def.Field, [][]rv) {
	types := []def.ValueType{def.Int64, def.Double, def.Bool, def.String, def.Timestamp}
	var schema []def.Field
	var cols [][]rv
	for i, t := range types {
		for k := 0; k < 1+r.IntN(2); k++ {
			schema = append(schema, def.Field{Name: fmt.Sprintf("%s_%d", strings.ToLower(t.String()), k), Type: t})
			col := make([]rv, rows)
			for row := range col {
				if r.IntN(6) == 0 {
					col[row] = null
					continue
				}
				col[row] = randomValue(r, t)
			}
			cols = append(cols, col)
			_ = i
		}
	}
	return schema, cols
}

func randomValue(r *rand.Rand, t def.ValueType) rv {
	switch t {
	case def.Int64:
		if r.IntN(4) == 0 {
			return rv{v: interestingInts[r.IntN(len(interestingInts))]}
		}
		return rv{v: int64(r.IntN(200) - 100)}
	case def.Double:
		switch r.IntN(8) {
		case 0:
			return rv{v: math.NaN()}
		case 1:
			return rv{v: math.Inf(1 - 2*r.IntN(2))}
		case 2:
			return rv{v: interestingFloats[r.IntN(len(interestingFloats))]}
		case 3:
			return rv{v: math.Copysign(0, -1)}
		}
		return rv{v: r.NormFloat64() * 100}
	case def.Bool:
		return rv{v: r.IntN(2) == 0}
	case def.String:
		vals := []string{"", "a", "business", "consumer", "12", " 7 ", "3.5", "true", "F", "Ünïcode", "x y", "\xff", "NaN"}
		return rv{v: vals[r.IntN(len(vals))]}
	}
	// Timestamps around the epoch, before it, and far out.
	switch r.IntN(4) {
	case 0:
		return rv{v: -r.Int64N(1e15)}
	case 1:
		return rv{v: int64(0)}
	}
	return rv{v: r.Int64N(4e15)}
}

// toBatch converts reference columns into a compute batch.
func toBatch(schema []def.Field, cols [][]rv, rows int) *Batch {
	b := &Batch{Len: rows}
	for ci, f := range schema {
		c := &Column{Type: f.Type, Len: rows}
		switch f.Type {
		case def.Int64, def.Timestamp:
			c.I64 = make([]int64, rows)
		case def.Double:
			c.F64 = make([]float64, rows)
		case def.Bool:
			c.B = make([]bool, rows)
		case def.String:
			c.S = make([]string, rows)
		}
		for row, v := range cols[ci] {
			if v.null {
				if c.Valid == nil {
					c.Valid = make(Bitmap, words(rows))
					for i := range c.Valid {
						c.Valid[i] = ^uint64(0)
					}
				}
				c.Valid.Clear(row)
				continue
			}
			switch x := v.v.(type) {
			case int64:
				c.I64[row] = x
			case float64:
				c.F64[row] = x
			case bool:
				c.B[row] = x
			case string:
				c.S[row] = x
			}
		}
		b.Cols = append(b.Cols, c)
	}
	return b
}

// sameValue compares a kernel result with a reference value: NaN equals
// NaN, and floats must match bit for bit otherwise (both sides run the same
// IEEE operations in the same order).
func sameValue(c *Column, row int, want rv) bool {
	if c.Null(row) || want.null {
		return c.Null(row) == want.null
	}
	switch c.Type {
	case def.Int64, def.Timestamp:
		return c.I64[row] == want.v.(int64)
	case def.Double:
		w := want.v.(float64)
		got := c.F64[row]
		if math.IsNaN(w) || math.IsNaN(got) {
			return math.IsNaN(w) && math.IsNaN(got)
		}
		return math.Float64bits(got) == math.Float64bits(w)
	case def.Bool:
		return c.B[row] == want.v.(bool)
	case def.String:
		return c.S[row] == want.v.(string)
	}
	return false
}
