package compute

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"math"
	"strconv"
	"strings"

	"github.com/fstore/fstore/featurestore/def"
)

// Limits that keep hostile expressions from exhausting the compiler.
const (
	MaxExprLen   = 16 << 10
	MaxExprDepth = 128
)

type opKind uint8

const (
	opCol opKind = iota
	opConst
	opNeg
	opNot
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAnd
	opOr
	opCall
)

// scalar is a constant value; null when valid is false.
type scalar struct {
	valid bool
	i     int64
	f     float64
	b     bool
	s     string
}

// node is one typed operation of a compiled expression.
type node struct {
	op   opKind
	typ  def.ValueType
	pos  int
	args []*node
	col  int      // opCol: index in the input schema
	val  scalar   // opConst
	fn   *funcDef // opCall
	// extra holds constant arguments of functions such as bucketize and
	// hash_bucket, resolved at compile time.
	extra []float64
	id    int // index of the node's scratch column in an Evaluator
}

// Expr is a compiled, type-checked expression. It is immutable and safe for
// concurrent use; evaluate it through an Evaluator.
type Expr struct {
	Source string
	// Type is the result type.
	Type def.ValueType
	// Columns lists the input columns the expression reads, ascending.
	Columns []int
	root    *node
	nodes   int
	schema  *Schema
}

// Compile parses src with Go's expression syntax and type-checks it against
// schema. Column names are identifiers; a selector a.b names the column
// "a.b" (how on-demand views read view.feature).
func Compile(src string, schema *Schema) (*Expr, error) {
	if len(src) > MaxExprLen {
		return nil, &ExprError{Expr: src[:64] + "…", Pos: 0, Msg: fmt.Sprintf("expression is %d bytes long, more than %d", len(src), MaxExprLen)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Expr: src, Msg: "empty expression"}
	}
	text, ifAt := rewriteIf(src)
	tree, err := parser.ParseExpr(text)
	if err != nil {
		return nil, parseError(src, err, ifAt)
	}
	c := &checker{src: src, schema: schema, ifAt: ifAt, cols: map[int]bool{}}
	root, err := c.expr(tree, 0)
	if err != nil {
		return nil, err
	}
	root, err = fold(root)
	if err != nil {
		return nil, err
	}
	e := &Expr{Source: src, Type: root.typ, root: root, schema: schema}
	e.nodes = number(root, 0)
	for i := range schema.Fields {
		if c.cols[i] {
			e.Columns = append(e.Columns, i)
		}
	}
	return e, nil
}

// number assigns scratch indexes in post-order and returns the count.
func number(n *node, next int) int {
	for _, a := range n.args {
		next = number(a, next)
	}
	n.id = next
	return next + 1
}

// rewriteIf turns the keyword `if` followed by "(" into the identifier
// "iF" of the same length, so that go/parser accepts if(c, a, b) and every
// offset stays that of the original text. It returns the offsets rewritten;
// only an "iF" at one of them means the if function.
func rewriteIf(src string) (string, map[int]bool) {
	if !strings.Contains(src, "if") {
		return src, nil
	}
	var s scanner.Scanner
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	s.Init(file, []byte(src), func(token.Position, string) {}, 0)
	var at []int
	prevIf := -1
	for {
		pos, tok, _ := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.LPAREN && prevIf >= 0 {
			at = append(at, prevIf)
		}
		prevIf = -1
		if tok == token.IF {
			prevIf = file.Offset(pos)
		}
	}
	if len(at) == 0 {
		return src, nil
	}
	b := []byte(src)
	m := make(map[int]bool, len(at))
	for _, off := range at {
		b[off+1] = 'F'
		m[off] = true
	}
	return string(b), m
}

func parseError(src string, err error, ifAt map[int]bool) error {
	if list, ok := err.(scanner.ErrorList); ok && len(list) > 0 {
		e := list[0]
		off := 0
		// Expressions are usually one line; convert line/column to an offset.
		line := 1
		for i := 0; i < len(src) && line < e.Pos.Line; i++ {
			if src[i] == '\n' {
				line++
				off = i + 1
			}
		}
		off += e.Pos.Column - 1
		if off > len(src) {
			off = len(src)
		}
		msg := e.Msg
		if ifAt[off] {
			// The parser saw the rewritten token; name the one the user wrote.
			msg = strings.Replace(strings.Replace(msg, "'iF'", "'if'", 1), "found iF", "found 'if'", 1)
		}
		return &ExprError{Expr: src, Pos: max(off, 0), Msg: "syntax error: " + msg}
	}
	return &ExprError{Expr: src, Msg: "syntax error: " + err.Error()}
}

type checker struct {
	src    string
	schema *Schema
	ifAt   map[int]bool
	cols   map[int]bool
}

func (c *checker) errorf(pos token.Pos, format string, args ...any) error {
	off := int(pos) - 1
	if off < 0 || off > len(c.src) {
		off = 0
	}
	return &ExprError{Expr: c.src, Pos: off, Msg: fmt.Sprintf(format, args...)}
}

func (c *checker) expr(e ast.Expr, depth int) (*node, error) {
	if depth > MaxExprDepth {
		return nil, c.errorf(e.Pos(), "expression nests more than %d levels deep", MaxExprDepth)
	}
	switch e := e.(type) {
	case *ast.ParenExpr:
		return c.expr(e.X, depth+1)
	case *ast.BasicLit:
		return c.literal(e)
	case *ast.Ident:
		return c.ident(e)
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		if !ok {
			return nil, c.errorf(e.Pos(), "only view.feature selectors are supported")
		}
		return c.column(x.Name+"."+e.Sel.Name, e.Pos())
	case *ast.UnaryExpr:
		return c.unary(e, depth)
	case *ast.BinaryExpr:
		return c.binary(e, depth)
	case *ast.CallExpr:
		return c.call(e, depth)
	}
	return nil, c.errorf(e.Pos(), "%s is not supported in feature expressions", describeNode(e))
}

func describeNode(e ast.Expr) string {
	switch e.(type) {
	case *ast.IndexExpr, *ast.IndexListExpr:
		return "indexing"
	case *ast.SliceExpr:
		return "slicing"
	case *ast.FuncLit:
		return "a function literal"
	case *ast.CompositeLit:
		return "a composite literal"
	case *ast.StarExpr:
		return "a pointer dereference"
	case *ast.TypeAssertExpr:
		return "a type assertion"
	case *ast.KeyValueExpr:
		return "a key: value pair"
	}
	return fmt.Sprintf("%T", e)
}

func (c *checker) literal(e *ast.BasicLit) (*node, error) {
	n := &node{op: opConst, pos: int(e.Pos()) - 1}
	switch e.Kind {
	case token.INT:
		v, err := strconv.ParseInt(e.Value, 0, 64)
		if err != nil {
			return nil, c.errorf(e.Pos(), "integer literal %s does not fit in int64", e.Value)
		}
		n.typ, n.val = def.Int64, scalar{valid: true, i: v}
	case token.FLOAT:
		v, err := strconv.ParseFloat(e.Value, 64)
		if err != nil || math.IsInf(v, 0) {
			return nil, c.errorf(e.Pos(), "float literal %s is out of range", e.Value)
		}
		n.typ, n.val = def.Double, scalar{valid: true, f: v}
	case token.STRING:
		v, err := strconv.Unquote(e.Value)
		if err != nil {
			return nil, c.errorf(e.Pos(), "bad string literal %s", e.Value)
		}
		n.typ, n.val = def.String, scalar{valid: true, s: v}
	case token.CHAR:
		return nil, c.errorf(e.Pos(), "character literals are not supported: use a string (\"x\")")
	default:
		return nil, c.errorf(e.Pos(), "%s literals are not supported", strings.ToLower(e.Kind.String()))
	}
	return n, nil
}

func (c *checker) ident(e *ast.Ident) (*node, error) {
	switch e.Name {
	case "true", "false":
		return &node{op: opConst, typ: def.Bool, pos: int(e.Pos()) - 1, val: scalar{valid: true, b: e.Name == "true"}}, nil
	}
	return c.column(e.Name, e.Pos())
}

func (c *checker) column(name string, pos token.Pos) (*node, error) {
	i, ok := c.schema.Lookup(name)
	if !ok {
		msg := fmt.Sprintf("unknown column %q", name)
		if why, bad := c.schema.unsupported[name]; bad {
			msg = fmt.Sprintf("column %q is %s, which fstore does not read", name, why)
		} else if s := def.Suggest(name, c.schema.Names()); len(s) > 0 {
			msg += " (did you mean " + quoteList(s) + "?)"
		} else if len(c.schema.Fields) <= 12 {
			msg += " (columns: " + strings.Join(c.schema.Names(), ", ") + ")"
		}
		return nil, c.errorf(pos, "%s", msg)
	}
	c.cols[i] = true
	return &node{op: opCol, typ: c.schema.Fields[i].Type, col: i, pos: int(pos) - 1}, nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of " + strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func isNumeric(t def.ValueType) bool { return t == def.Int64 || t == def.Double }

// promote converts n to Double (an int64 → float64 cast) if want is Double
// and n is Int64; other combinations are returned unchanged.
func promote(n *node, want def.ValueType) *node {
	if want == def.Double && n.typ == def.Int64 {
		return &node{op: opCall, typ: def.Double, pos: n.pos, args: []*node{n}, fn: castFuncs[def.Double]}
	}
	return n
}

// common returns the type both a and b convert to, if any: equal types,
// or Double for a mix of Int64 and Double.
func common(a, b def.ValueType) (def.ValueType, bool) {
	switch {
	case a == b:
		return a, true
	case isNumeric(a) && isNumeric(b):
		return def.Double, true
	}
	return 0, false
}

func (c *checker) unary(e *ast.UnaryExpr, depth int) (*node, error) {
	x, err := c.expr(e.X, depth+1)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case token.ADD:
		if !isNumeric(x.typ) {
			return nil, c.errorf(e.OpPos, "unary + needs a number, not %s", x.typ)
		}
		return x, nil
	case token.SUB:
		if !isNumeric(x.typ) {
			return nil, c.errorf(e.OpPos, "unary - needs a number, not %s", x.typ)
		}
		return &node{op: opNeg, typ: x.typ, pos: int(e.OpPos) - 1, args: []*node{x}}, nil
	case token.NOT:
		if x.typ != def.Bool {
			return nil, c.errorf(e.OpPos, "! needs a BOOL, not %s", x.typ)
		}
		return &node{op: opNot, typ: def.Bool, pos: int(e.OpPos) - 1, args: []*node{x}}, nil
	}
	return nil, c.errorf(e.OpPos, "operator %s is not supported", e.Op)
}

var binOps = map[token.Token]opKind{
	token.ADD: opAdd, token.SUB: opSub, token.MUL: opMul, token.QUO: opDiv, token.REM: opMod,
	token.EQL: opEq, token.NEQ: opNe, token.LSS: opLt, token.LEQ: opLe, token.GTR: opGt, token.GEQ: opGe,
	token.LAND: opAnd, token.LOR: opOr,
}

func (c *checker) binary(e *ast.BinaryExpr, depth int) (*node, error) {
	op, ok := binOps[e.Op]
	if !ok {
		return nil, c.errorf(e.OpPos, "operator %s is not supported", e.Op)
	}
	x, err := c.expr(e.X, depth+1)
	if err != nil {
		return nil, err
	}
	y, err := c.expr(e.Y, depth+1)
	if err != nil {
		return nil, err
	}
	n := &node{op: op, pos: int(e.OpPos) - 1}
	mismatch := func() error {
		return c.errorf(e.OpPos, "operator %s does not apply to %s and %s", e.Op, x.typ, y.typ)
	}
	switch op {
	case opAnd, opOr:
		if x.typ != def.Bool || y.typ != def.Bool {
			return nil, mismatch()
		}
		n.typ = def.Bool
	case opEq, opNe, opLt, opLe, opGt, opGe:
		t, ok := common(x.typ, y.typ)
		if !ok || (t == def.Bool && op != opEq && op != opNe) {
			return nil, mismatch()
		}
		x, y = promote(x, t), promote(y, t)
		n.typ = def.Bool
	case opMod:
		if x.typ != def.Int64 || y.typ != def.Int64 {
			return nil, c.errorf(e.OpPos, "operator %% needs INT64 operands, not %s and %s", x.typ, y.typ)
		}
		n.typ = def.Int64
	case opAdd, opSub:
		switch {
		case x.typ == def.Timestamp && y.typ == def.Int64:
			n.typ = def.Timestamp // timestamp ± microseconds
		case op == opAdd && x.typ == def.Int64 && y.typ == def.Timestamp:
			n.typ = def.Timestamp
		case op == opSub && x.typ == def.Timestamp && y.typ == def.Timestamp:
			n.typ = def.Int64 // difference in microseconds
		case op == opAdd && x.typ == def.String && y.typ == def.String:
			n.typ = def.String
		case isNumeric(x.typ) && isNumeric(y.typ):
			n.typ, _ = common(x.typ, y.typ)
			x, y = promote(x, n.typ), promote(y, n.typ)
		default:
			return nil, mismatch()
		}
	case opMul, opDiv:
		if !isNumeric(x.typ) || !isNumeric(y.typ) {
			return nil, mismatch()
		}
		n.typ, _ = common(x.typ, y.typ)
		x, y = promote(x, n.typ), promote(y, n.typ)
	}
	n.args = []*node{x, y}
	return n, nil
}

func (c *checker) call(e *ast.CallExpr, depth int) (*node, error) {
	id, ok := e.Fun.(*ast.Ident)
	if !ok {
		return nil, c.errorf(e.Fun.Pos(), "only calls of named functions are supported")
	}
	name := id.Name
	if name == "iF" && c.ifAt[int(id.Pos())-1] {
		name = "if"
	}
	if e.Ellipsis.IsValid() {
		return nil, c.errorf(e.Ellipsis, "... is not supported")
	}
	fn, ok := functions[name]
	if !ok {
		msg := fmt.Sprintf("unknown function %q", name)
		if s := def.Suggest(name, functionNames()); len(s) > 0 {
			msg += " (did you mean " + quoteList(s) + "?)"
		}
		return nil, c.errorf(id.Pos(), "%s", msg)
	}
	args := make([]*node, len(e.Args))
	for i, a := range e.Args {
		n, err := c.expr(a, depth+1)
		if err != nil {
			return nil, err
		}
		// Fold now so that constant arguments (bucketize boundaries, the
		// hash_bucket count) are constants even when written as -10 or 2*5.
		if args[i], err = fold(n); err != nil {
			return nil, err
		}
	}
	n := &node{op: opCall, fn: fn, pos: int(id.Pos()) - 1, args: args}
	if err := fn.check(n); err != nil {
		if ee, ok := err.(*argError); ok {
			pos := id.Pos()
			if ee.arg >= 0 && ee.arg < len(e.Args) {
				pos = e.Args[ee.arg].Pos()
			}
			return nil, c.errorf(pos, "%s: %s", name, ee.msg)
		}
		return nil, c.errorf(id.Pos(), "%s: %v", name, err)
	}
	return n, nil
}

// argError is a type error in one argument of a function call (arg -1
// for the call as a whole).
type argError struct {
	arg int
	msg string
}

func (e *argError) Error() string { return e.msg }

func argErrorf(arg int, format string, args ...any) error {
	return &argError{arg: arg, msg: fmt.Sprintf(format, args...)}
}

// fold replaces every subtree without column references by its constant
// value, computed by the same kernels that evaluate columns.
func fold(n *node) (*node, error) {
	allConst := true
	for i, a := range n.args {
		f, err := fold(a)
		if err != nil {
			return nil, err
		}
		n.args[i] = f
		if f.op != opConst {
			allConst = false
		}
	}
	if n.op == opConst || n.op == opCol || !allConst {
		return n, nil
	}
	number(n, 0)
	ev := &Evaluator{cols: make([]Column, n.id+1), spare: make([]Bitmap, n.id+1), consts: make([]int, n.id+1)}
	out := ev.eval(n, &Batch{Len: 1})
	return &node{op: opConst, typ: n.typ, pos: n.pos, val: scalarAt(out, 0)}, nil
}

func scalarAt(c *Column, i int) scalar {
	if c.Null(i) {
		return scalar{}
	}
	s := scalar{valid: true}
	switch c.Type {
	case def.Int64, def.Timestamp:
		s.i = c.I64[i]
	case def.Double:
		s.f = c.F64[i]
	case def.Bool:
		s.b = c.B[i]
	case def.String:
		s.s = c.S[i]
	}
	return s
}
