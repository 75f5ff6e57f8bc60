// Package compute turns definitions into plans and runs them. Every piece of
// feature logic — expressions, row filters, windowed aggregations and
// on-demand features — is compiled here once and the same kernels run
// offline, over large column batches from Parquet, and online, over a
// request's handful of rows. A second implementation anywhere else would be
// training–serving skew.
//
// Expressions use Go syntax, parsed by go/parser.ParseExpr, type-checked
// against a schema, and compiled to vectorised kernels over typed columns
// with validity bitmaps. Semantics, including nulls, division by zero, NaN
// and overflow, are documented in expr.go and functions.go; the short
// version: null propagates through every operator and function except
// coalesce, is_null, if (a null condition takes the else branch) and the
// three-valued && and ||; float arithmetic follows IEEE 754; integer
// arithmetic wraps; integer division or modulo by zero is null.
//
// Invariants:
//   - a compiled Expr is immutable and safe for concurrent use; evaluation
//     state lives in an Evaluator, one per goroutine;
//   - an Evaluator allocates only when a batch is larger than any before it,
//     so steady-state evaluation allocates nothing;
//   - window aggregations fold tiles in ascending tile order on every path,
//     so float results are bit-identical offline and online.
package compute
