package compute

import (
	"errors"
	"fmt"
)

var (
	// ErrExpr is matched by every error from compiling an expression.
	ErrExpr = errors.New("compute: invalid expression")
	// ErrPlan is matched by errors from compiling a plan that are not about
	// one expression (unknown source columns, unsupported types).
	ErrPlan = errors.New("compute: invalid plan")
	// ErrNoHistory is returned by OfflineSource for a view with no offline
	// history: a push source without a batch source.
	ErrNoHistory = errors.New("compute: the view has no offline history")
	// ErrInput is matched by errors reading input data (ParquetFile):
	// unreadable or corrupt files, missing columns, wrong column types.
	ErrInput = errors.New("compute: bad input")
)

// ExprError is an error at a position in an expression. It matches ErrExpr.
type ExprError struct {
	Expr string
	// Pos is the 0-based byte offset of the offending part of Expr.
	Pos int
	Msg string
}

// Error names the 1-based column and quotes the expression, so that a
// one-line message still points at the problem:
// `column 5 of "log(driver_nam)": unknown column "driver_nam"`.
func (e *ExprError) Error() string {
	return fmt.Sprintf("column %d of %q: %s", e.Pos+1, e.Expr, e.Msg)
}

// Is makes errors.Is(err, ErrExpr) true.
func (e *ExprError) Is(target error) bool { return target == ErrExpr }
