package compute

import (
	"fmt"
	"math"
	"sort"

	"github.com/fstore/fstore/featurestore/def"
)

// Window semantics (DESIGN.md): with hop H and window W (a multiple of H),
// the value at time t aggregates the events with event_ts <= t and
// floor(event_ts/H) > floor(t/H) - W/H. Events fall into tiles, tile k
// holding the events with floor(ts/H) = k; a window is the fold of its
// tiles in ascending k. Offline (Backfill) and online (Tiles.Add then
// Tiles.Eval) run the same Add and Merge in the same order, which makes even
// floating-point results bit-identical when events reach a tile in the same
// order. Events added online out of event-time order can change the last
// bits of a DOUBLE SUM, MEAN or STDDEV, as reordering any float sum does.

// Agg is a compiled windowed aggregation.
type Agg struct {
	Name string
	Func def.AggFunc
	// Expr is the aggregated expression; nil for COUNT without one.
	Expr *Expr
	// Window and Hop are in microseconds.
	Window, Hop int64
	// In is the type of the aggregated values, Out the result type.
	In, Out def.ValueType
}

// NewAgg compiles an aggregation against the source schema.
func NewAgg(a def.Aggregation, schema *Schema) (*Agg, error) {
	g := &Agg{Name: a.Name, Func: a.Func, Window: a.Window.Microseconds(), Hop: a.Hop.Microseconds()}
	if g.Hop <= 0 || g.Window <= 0 || g.Window%g.Hop != 0 {
		return nil, fmt.Errorf("%w: aggregation %q: window %s is not a positive multiple of hop %s", ErrPlan, a.Name, a.Window, a.Hop)
	}
	if a.Expr != "" {
		e, err := Compile(a.Expr, schema)
		if err != nil {
			return nil, err
		}
		g.Expr, g.In = e, e.Type
	} else if a.Func != def.Count {
		return nil, fmt.Errorf("%w: aggregation %q: %s needs an expression", ErrPlan, a.Name, a.Func)
	}
	switch a.Func {
	case def.Count:
		g.Out = def.Int64
	case def.Sum:
		if !isNumeric(g.In) {
			return nil, aggTypeError(a, g.In, "INT64 or DOUBLE")
		}
		g.Out = g.In
	case def.Mean, def.Stddev:
		if !isNumeric(g.In) {
			return nil, aggTypeError(a, g.In, "INT64 or DOUBLE")
		}
		g.Out = def.Double
	case def.Min, def.Max:
		if g.In == def.Bool {
			return nil, aggTypeError(a, g.In, "INT64, DOUBLE, STRING or TIMESTAMP")
		}
		g.Out = g.In
	case def.Last:
		g.Out = g.In
	default:
		return nil, fmt.Errorf("%w: aggregation %q: unknown function %s", ErrPlan, a.Name, a.Func)
	}
	return g, nil
}

func aggTypeError(a def.Aggregation, got def.ValueType, want string) error {
	return &ExprError{Expr: a.Expr, Msg: fmt.Sprintf("%s needs %s values, the expression is %s", a.Func, want, got)}
}

// Acc is the mergeable intermediate of one aggregation over a set of
// events. Which fields are used depends on the function:
//
//	COUNT   N
//	SUM     N, I (INT64) or F (DOUBLE)
//	MEAN    N, F (sum)
//	STDDEV  N, F (mean), M2 (sum of squared deviations; Chan et al. merge)
//	MIN/MAX N, I, F or S
//	LAST    N, I, F, S or B, with TS and Created of the value's event
type Acc struct {
	N       int64
	I       int64
	F       float64
	M2      float64
	S       string
	B       bool
	TS      int64
	Created int64
}

// Tile is the accumulator of the events of tile K (floor(ts/Hop) = K).
type Tile struct {
	K   int64
	Acc Acc
}

// TileOf returns the tile index of a timestamp.
func (g *Agg) TileOf(ts int64) int64 { return floorDiv(ts, g.Hop) }

// Add accumulates the value at row of vals (an event at ts, created at
// created) into acc. A null value counts for nothing, except that COUNT
// without an expression counts events; pass vals nil for that case.
func (g *Agg) Add(acc *Acc, vals *Column, row int, ts, created int64) {
	if vals == nil {
		acc.N++
		return
	}
	if vals.Null(row) {
		return
	}
	switch g.Func {
	case def.Count:
		acc.N++
	case def.Sum:
		acc.N++
		if g.In == def.Int64 {
			acc.I += vals.I64[row]
		} else {
			acc.F += vals.F64[row]
		}
	case def.Mean:
		acc.N++
		if g.In == def.Int64 {
			acc.F += float64(vals.I64[row])
		} else {
			acc.F += vals.F64[row]
		}
	case def.Stddev:
		x := vals.F64Value(row)
		acc.N++
		delta := x - acc.F
		acc.F += delta / float64(acc.N)
		acc.M2 += delta * (x - acc.F)
	case def.Min, def.Max:
		g.addExtreme(acc, vals, row)
	case def.Last:
		if acc.N > 0 && CompareEvents(ts, created, acc.TS, acc.Created) < 0 {
			return // an earlier event; ties go to the event added later
		}
		acc.N++
		acc.TS, acc.Created = ts, created
		setValue(acc, vals, row)
	}
}

// F64Value returns row as float64 for numeric columns.
func (c *Column) F64Value(row int) float64 {
	if c.Type == def.Double {
		return c.F64[row]
	}
	return float64(c.I64[row])
}

func setValue(acc *Acc, vals *Column, row int) {
	switch vals.Type {
	case def.Int64, def.Timestamp:
		acc.I = vals.I64[row]
	case def.Double:
		acc.F = vals.F64[row]
	case def.String:
		acc.S = vals.S[row]
	case def.Bool:
		acc.B = vals.B[row]
	}
}

func (g *Agg) addExtreme(acc *Acc, vals *Column, row int) {
	first := acc.N == 0
	acc.N++
	min := g.Func == def.Min
	switch vals.Type {
	case def.Int64, def.Timestamp:
		v := vals.I64[row]
		if first || (v < acc.I) == min && v != acc.I {
			acc.I = v
		}
	case def.Double:
		v := vals.F64[row]
		switch {
		case first:
			acc.F = v
		case min:
			acc.F = math.Min(acc.F, v)
		default:
			acc.F = math.Max(acc.F, v)
		}
	case def.String:
		v := vals.S[row]
		if first || (v < acc.S) == min && v != acc.S {
			acc.S = v
		}
	}
}

// Merge folds src, the accumulator of later events (a later tile), into dst.
func (g *Agg) Merge(dst *Acc, src *Acc) {
	if src.N == 0 {
		return
	}
	if dst.N == 0 {
		*dst = *src
		return
	}
	switch g.Func {
	case def.Count:
		dst.N += src.N
	case def.Sum, def.Mean:
		dst.N += src.N
		dst.I += src.I
		dst.F += src.F
	case def.Stddev:
		n := dst.N + src.N
		delta := src.F - dst.F
		dst.M2 += src.M2 + delta*delta*float64(dst.N)*float64(src.N)/float64(n)
		dst.F += delta * float64(src.N) / float64(n)
		dst.N = n
	case def.Min, def.Max:
		min := g.Func == def.Min
		dst.N += src.N
		switch g.In {
		case def.Int64, def.Timestamp:
			if (src.I < dst.I) == min && src.I != dst.I {
				dst.I = src.I
			}
		case def.Double:
			if min {
				dst.F = math.Min(dst.F, src.F)
			} else {
				dst.F = math.Max(dst.F, src.F)
			}
		case def.String:
			if (src.S < dst.S) == min && src.S != dst.S {
				dst.S = src.S
			}
		}
	case def.Last:
		if CompareEvents(src.TS, src.Created, dst.TS, dst.Created) >= 0 { // ties: the later tile wins
			n := dst.N + src.N
			*dst = *src
			dst.N = n
		} else {
			dst.N += src.N
		}
	}
}

// Result writes the aggregation's value for acc into row of out, a column
// of type g.Out. COUNT of nothing is 0; every other function of nothing is
// null.
func (g *Agg) Result(acc *Acc, out *Column, row int, valid Bitmap) {
	if g.Func == def.Count {
		out.I64[row] = acc.N
		return
	}
	if acc.N == 0 {
		valid.Clear(row)
		return
	}
	switch g.Func {
	case def.Sum:
		if g.Out == def.Int64 {
			out.I64[row] = acc.I
		} else {
			out.F64[row] = acc.F
		}
	case def.Mean:
		out.F64[row] = acc.F / float64(acc.N)
	case def.Stddev:
		out.F64[row] = math.Sqrt(acc.M2 / float64(acc.N))
	default:
		switch g.Out {
		case def.Int64, def.Timestamp:
			out.I64[row] = acc.I
		case def.Double:
			out.F64[row] = acc.F
		case def.String:
			out.S[row] = acc.S
		case def.Bool:
			out.B[row] = acc.B
		}
	}
}

// Tiles is one entity's tiles of one aggregation, ascending by K: the
// online state.
type Tiles []Tile

// Add accumulates one event into its tile, creating the tile if needed.
// Events may arrive in any order.
func (g *Agg) AddEvent(tiles Tiles, vals *Column, row int, ts, created int64) Tiles {
	k := g.TileOf(ts)
	// Events mostly arrive in time order: the last tile, or a new one after it.
	if n := len(tiles); n == 0 || tiles[n-1].K < k {
		tiles = append(tiles, Tile{K: k})
		g.Add(&tiles[n].Acc, vals, row, ts, created)
		return tiles
	} else if tiles[n-1].K == k {
		g.Add(&tiles[n-1].Acc, vals, row, ts, created)
		return tiles
	}
	i := sort.Search(len(tiles), func(i int) bool { return tiles[i].K >= k })
	if i == len(tiles) || tiles[i].K != k {
		tiles = append(tiles, Tile{})
		copy(tiles[i+1:], tiles[i:])
		tiles[i] = Tile{K: k}
	}
	g.Add(&tiles[i].Acc, vals, row, ts, created)
	return tiles
}

// Prune drops tiles that no window ending at or after t can include.
func (g *Agg) Prune(tiles Tiles, t int64) Tiles {
	lo := g.TileOf(t) - g.Window/g.Hop // tiles with K <= lo are out
	i := sort.Search(len(tiles), func(i int) bool { return tiles[i].K > lo })
	if i == 0 {
		return tiles
	}
	return append(tiles[:0], tiles[i:]...)
}

// Eval folds the tiles inside the window ending at t, in ascending K. The
// tiles must hold only events at or before t (the online store's
// invariant: it holds events up to its watermark, and reads happen after).
func (g *Agg) Eval(tiles Tiles, t int64) Acc {
	kt := g.TileOf(t)
	lo := kt - g.Window/g.Hop
	i := sort.Search(len(tiles), func(i int) bool { return tiles[i].K > lo })
	var acc Acc
	for ; i < len(tiles) && tiles[i].K <= kt; i++ {
		g.Merge(&acc, &tiles[i].Acc)
	}
	return acc
}

// Cursor evaluates one aggregation for one entity at ascending times over
// that entity's events sorted by (ts, created, file order): the offline
// path. It builds tiles with the same AddEvent and folds them with the same
// Eval as the online path, so both give identical results.
type Cursor struct {
	g           *Agg
	tiles       Tiles
	ts, created []int64
	vals        *Column
	base, next  int
}

// NewCursor returns a cursor for g; call Reset before At.
func (g *Agg) NewCursor() *Cursor { return &Cursor{g: g} }

// Reset starts a new entity whose events have the given times; event i's
// value is row base+i of vals (vals is nil for COUNT without expression).
func (c *Cursor) Reset(ts, created []int64, vals *Column, base int) {
	c.tiles = c.tiles[:0]
	c.ts, c.created, c.vals, c.base, c.next = ts, created, vals, base, 0
}

// At returns the accumulator of the window ending at t. Calls must come in
// ascending t.
func (c *Cursor) At(t int64) Acc {
	for c.next < len(c.ts) && c.ts[c.next] <= t {
		var created int64
		if c.created != nil {
			created = c.created[c.next]
		}
		c.tiles = c.g.AddEvent(c.tiles, c.vals, c.base+c.next, c.ts[c.next], created)
		c.next++
	}
	c.tiles = c.g.Prune(c.tiles, t)
	return c.g.Eval(c.tiles, t)
}
