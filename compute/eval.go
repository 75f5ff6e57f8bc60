package compute

import (
	"cmp"

	"github.com/fstore/fstore/featurestore/def"
)

// Evaluator evaluates one Expr. It owns the scratch columns results are
// written to, so it is not safe for concurrent use: give each goroutine its
// own (they are cheap) or pool them. After warm-up on the largest batch it
// will see, evaluation allocates nothing for expressions whose result is not
// a newly built string.
type Evaluator struct {
	e      *Expr
	cols   []Column
	spare  []Bitmap
	consts []int // rows of a constant node's column already filled
	args   [][]*Column
}

// NewEvaluator returns an evaluator of e.
func (e *Expr) NewEvaluator() *Evaluator {
	return &Evaluator{e: e, cols: make([]Column, e.nodes), spare: make([]Bitmap, e.nodes), consts: make([]int, e.nodes)}
}

// Eval evaluates the expression over b, whose columns must follow the
// schema the expression was compiled against (Schema.CheckBatch). The
// result is owned by the Evaluator and valid until its next Eval; it may
// be one of b's own columns when the expression is a bare column.
func (ev *Evaluator) Eval(b *Batch) *Column { return ev.eval(ev.e.root, b) }

func (ev *Evaluator) eval(n *node, b *Batch) *Column {
	switch n.op {
	case opCol:
		return b.Cols[n.col]
	case opConst:
		return ev.constant(n, b.Len)
	}
	out := &ev.cols[n.id]
	var a, c *Column
	switch len(n.args) {
	case 0:
	case 1:
		a = ev.eval(n.args[0], b)
	default:
		a = ev.eval(n.args[0], b)
		c = ev.eval(n.args[1], b)
	}
	switch n.op {
	case opNeg:
		out.reset(n.typ, b.Len)
		if n.typ == def.Int64 {
			neg(out.I64, a.I64)
		} else {
			neg(out.F64, a.F64)
		}
		out.Valid = a.Valid
	case opNot:
		out.reset(def.Bool, b.Len)
		src := a.B[:len(out.B)]
		for i := range out.B {
			out.B[i] = !src[i]
		}
		out.Valid = a.Valid
	case opAdd, opSub, opMul, opDiv, opMod:
		ev.arith(n, out, a, c, b.Len)
	case opEq, opNe, opLt, opLe, opGt, opGe:
		out.reset(def.Bool, b.Len)
		switch a.Type {
		case def.Int64, def.Timestamp:
			compare(n.op, out.B, a.I64, c.I64)
		case def.Double:
			compare(n.op, out.B, a.F64, c.F64)
		case def.String:
			compare(n.op, out.B, a.S, c.S)
		case def.Bool:
			eqBool(n.op, out.B, a.B, c.B)
		}
		ev.and(n, out, a, c)
	case opAnd, opOr:
		ev.logic(n, out, a, c, b.Len)
	case opCall:
		args := ev.argCols(n, b)
		n.fn.eval(ev, n, args, out, b.Len)
	}
	return out
}

// argCols evaluates a call's arguments. The slice is the node's own scratch
// so that calls allocate nothing after the first.
func (ev *Evaluator) argCols(n *node, b *Batch) []*Column {
	args := ev.argBuf(n)
	for i, a := range n.args {
		args[i] = ev.eval(a, b)
	}
	return args
}

// argBuf returns a slice for the node's argument columns, kept per node.
func (ev *Evaluator) argBuf(n *node) []*Column {
	if ev.args == nil {
		ev.args = make([][]*Column, len(ev.cols))
	}
	if len(ev.args[n.id]) != len(n.args) {
		ev.args[n.id] = make([]*Column, len(n.args))
	}
	return ev.args[n.id]
}

// constant returns a column of n rows holding n's value. It is filled once
// per size and reused after.
func (ev *Evaluator) constant(nd *node, n int) *Column {
	out := &ev.cols[nd.id]
	if ev.consts[nd.id] < n || out.Type != nd.typ {
		out.reset(nd.typ, n)
		v := nd.val
		switch nd.typ {
		case def.Int64, def.Timestamp:
			fill(out.I64, v.i)
		case def.Double:
			fill(out.F64, v.f)
		case def.Bool:
			fill(out.B, v.b)
		case def.String:
			fill(out.S, v.s)
		}
		ev.consts[nd.id] = n
	} else {
		out.setLen(n)
	}
	if !nd.val.valid {
		v := out.allValid(&ev.spare[nd.id], n)
		for i := range v {
			v[i] = 0
		}
	} else {
		out.Valid = nil
	}
	return out
}

func (c *Column) setLen(n int) {
	c.Len = n
	switch c.Type {
	case def.Int64, def.Timestamp:
		c.I64 = c.I64[:n]
	case def.Double:
		c.F64 = c.F64[:n]
	case def.Bool:
		c.B = c.B[:n]
	case def.String:
		c.S = c.S[:n]
	}
}

func fill[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

// and sets out's validity to the intersection of the arguments'.
func (ev *Evaluator) and(n *node, out *Column, cols ...*Column) {
	var first Bitmap
	count := 0
	for _, c := range cols {
		if c.Valid != nil {
			if first == nil {
				first = c.Valid
			}
			count++
		}
	}
	switch count {
	case 0:
		out.Valid = nil
		return
	case 1:
		out.Valid = first
		return
	}
	v := out.allValid(&ev.spare[n.id], out.Len)
	for _, c := range cols {
		if c.Valid != nil {
			src := c.Valid[:len(v)]
			for i := range v {
				v[i] &= src[i]
			}
		}
	}
}

func neg[T int64 | float64](dst, a []T) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = -a[i]
	}
}

func (ev *Evaluator) arith(n *node, out, a, c *Column, rows int) {
	out.reset(n.typ, rows)
	switch {
	case a.Type == def.String:
		for i := range out.S {
			out.S[i] = a.S[i] + c.S[i]
		}
	case a.Type == def.Double:
		arithKernel(n.op, out.F64, a.F64, c.F64)
	case n.op == opDiv || n.op == opMod:
		// Integer division or modulo by zero is null, never a panic.
		ev.and(n, out, a, c)
		var v Bitmap
		x, y := a.I64[:rows], c.I64[:rows]
		for i := range out.I64 {
			d := y[i]
			if d == 0 {
				if v == nil {
					v = ev.ownValid(n, out)
				}
				v.Clear(i)
				out.I64[i] = 0
				continue
			}
			if d == -1 {
				// MinInt64 / -1 overflows; Go defines the result as the
				// wrapped value, which is -x. Modulo is 0.
				if n.op == opDiv {
					out.I64[i] = -x[i]
				} else {
					out.I64[i] = 0
				}
				continue
			}
			if n.op == opDiv {
				out.I64[i] = x[i] / d
			} else {
				out.I64[i] = x[i] % d
			}
		}
		return
	default:
		// Int64, or Timestamp ± Int64 and Timestamp - Timestamp, which are
		// plain int64 arithmetic on microseconds.
		arithKernel(n.op, out.I64, a.I64, c.I64)
	}
	ev.and(n, out, a, c)
}

// ownValid makes out.Valid a bitmap owned by the node (a copy of the
// combined argument validity), so that rows can be cleared in it.
func (ev *Evaluator) ownValid(n *node, out *Column) Bitmap {
	prev := out.Valid
	if prev != nil && len(ev.spare[n.id]) > 0 && &prev[0] == &ev.spare[n.id][0] {
		return prev
	}
	v := out.allValid(&ev.spare[n.id], out.Len)
	if prev != nil {
		copy(v, prev)
	}
	return v
}

func arithKernel[T int64 | float64](op opKind, dst, a, b []T) {
	a, b = a[:len(dst)], b[:len(dst)]
	switch op {
	case opAdd:
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
	case opSub:
		for i := range dst {
			dst[i] = a[i] - b[i]
		}
	case opMul:
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range dst {
			dst[i] = a[i] / b[i]
		}
	}
}

func compare[T cmp.Ordered](op opKind, dst []bool, a, b []T) {
	a, b = a[:len(dst)], b[:len(dst)]
	switch op {
	case opEq:
		for i := range dst {
			dst[i] = a[i] == b[i]
		}
	case opNe:
		for i := range dst {
			dst[i] = a[i] != b[i]
		}
	case opLt:
		for i := range dst {
			dst[i] = a[i] < b[i]
		}
	case opLe:
		for i := range dst {
			dst[i] = a[i] <= b[i]
		}
	case opGt:
		for i := range dst {
			dst[i] = a[i] > b[i]
		}
	case opGe:
		for i := range dst {
			dst[i] = a[i] >= b[i]
		}
	}
}

func eqBool(op opKind, dst, a, b []bool) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = (a[i] == b[i]) == (op == opEq)
	}
}

// logic evaluates && and || with three-valued (Kleene) logic, as SQL does:
// false && null is false, true || null is true, otherwise null propagates.
func (ev *Evaluator) logic(n *node, out, a, c *Column, rows int) {
	out.reset(def.Bool, rows)
	x, y := a.B[:rows], c.B[:rows]
	and := n.op == opAnd
	for i := range out.B {
		if and {
			out.B[i] = x[i] && y[i]
		} else {
			out.B[i] = x[i] || y[i]
		}
	}
	if a.Valid == nil && c.Valid == nil {
		out.Valid = nil
		return
	}
	v := out.allValid(&ev.spare[n.id], rows)
	for i := 0; i < rows; i++ {
		av, cv := a.Valid.Get(i), c.Valid.Get(i)
		if av && cv {
			continue
		}
		// A known dominating operand decides the result.
		dominant := !and // true dominates ||, false dominates &&
		if (av && x[i] == dominant) || (cv && y[i] == dominant) {
			out.B[i] = dominant
			continue
		}
		v.Clear(i)
	}
}
