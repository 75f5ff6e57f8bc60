package featurelog

import (
	"fmt"
	"unsafe"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
)

// Batch is the sampled rows of one request (or several) of one Schema,
// built on the request path and handed to Logger.Submit. Get one with
// Acquire; it is not safe for concurrent use. Strings set into it are
// copied, so the caller may reuse its buffers as soon as a setter
// returns. Submit takes ownership of the batch; a batch that is not
// submitted goes back with Release.
//
// Every column but request_id, request_ts and the statuses starts null in
// a new row. A status left unset is written as PRESENT where the value is
// set and NULL_VALUE where it is not (what an on-demand feature's status
// is).
type Batch struct {
	schema *Schema
	n      int
	cols   []bcol
	// arena holds the bytes of the batch's strings.
	arena []byte
	// err is the first misuse (a type mismatch, a bad index); Submit drops
	// a batch that has one and counts its rows as invalid.
	err error
}

// bcol is one column of a batch: the slice of its type, and nulls.
type bcol struct {
	i64  []int64
	f64  []float64
	b    []bool
	s    []string
	null []bool
}

// freeBatches holds released batches for reuse. A channel, not a
// sync.Pool: batches are acquired on request goroutines and released on
// the writer's, in bursts of hundreds per drain, which a pool's per-P
// caches (and its clearing at every GC) turned into a fresh batch — a
// hundred slice allocations — for most requests.
var freeBatches = make(chan *Batch, 4096)

// maxKeptRows is the largest batch kept for reuse: a rare huge request
// must not pin its memory in the free list.
const maxKeptRows = 1 << 12

// Acquire returns an empty batch for schema s, reusing a released one
// when there is one.
func Acquire(s *Schema) *Batch {
	var b *Batch
	select {
	case b = <-freeBatches:
	default:
		b = new(Batch)
	}
	b.reset(s)
	return b
}

// Release returns b for reuse; b must not be used afterwards.
func Release(b *Batch) {
	if b == nil {
		return
	}
	b.schema = nil
	if b.n > maxKeptRows {
		return
	}
	select {
	case freeBatches <- b:
	default:
	}
}

func (b *Batch) reset(s *Schema) {
	b.schema, b.n, b.err = s, 0, nil
	b.arena = b.arena[:0]
	if cap(b.cols) < len(s.cols) {
		b.cols = append(b.cols[:cap(b.cols)], make([]bcol, len(s.cols)-cap(b.cols))...)
	}
	b.cols = b.cols[:len(s.cols)]
	for j := range b.cols {
		c := &b.cols[j]
		c.i64, c.f64, c.b, c.s, c.null = c.i64[:0], c.f64[:0], c.b[:0], c.s[:0], c.null[:0]
	}
}

// Schema returns the batch's schema.
func (b *Batch) Schema() *Schema { return b.schema }

// Len returns the number of rows.
func (b *Batch) Len() int { return b.n }

// Err returns the first misuse of the batch's setters, or nil.
func (b *Batch) Err() error { return b.err }

// AddRow appends a row for a request and returns its index. requestTS is
// the time the request was evaluated at, in microseconds since the epoch
// (UTC).
func (b *Batch) AddRow(requestID string, requestTS int64) int {
	for j := range b.cols {
		c := &b.cols[j]
		switch b.schema.types[j] {
		case def.Int64, def.Timestamp:
			c.i64 = append(c.i64, 0)
		case def.Double:
			c.f64 = append(c.f64, 0)
		case def.Bool:
			c.b = append(c.b, false)
		case def.String:
			c.s = append(c.s, "")
		}
		c.null = append(c.null, !b.schema.required[j])
	}
	row := b.n
	b.n++
	b.cols[0].s[row] = b.str(requestID)
	b.cols[1].i64[row] = requestTS
	return row
}

// str copies s into the arena. Strings already handed out keep pointing
// at the arena they were copied into when it grows.
func (b *Batch) str(s string) string {
	if s == "" {
		return ""
	}
	start := len(b.arena)
	b.arena = append(b.arena, s...)
	return unsafe.String(&b.arena[start], len(s))
}

func (b *Batch) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("featurelog: service %q: "+format, append([]any{b.schema.Service}, args...)...)
	}
}

// set copies row i of src into column j at row, checking the type.
func (b *Batch) set(j, row int, src *compute.Column, i int, what string) {
	if row < 0 || row >= b.n {
		b.fail("%s: row %d of %d", what, row, b.n)
		return
	}
	t := b.schema.types[j]
	if src.Type != t {
		b.fail("%s %q: value is %s, want %s", what, b.schema.cols[j].Name, src.Type, t)
		return
	}
	if i < 0 || i >= src.Len {
		b.fail("%s %q: source row %d of %d", what, b.schema.cols[j].Name, i, src.Len)
		return
	}
	c := &b.cols[j]
	if src.Null(i) {
		c.null[row] = true
		return
	}
	c.null[row] = false
	switch t {
	case def.Int64, def.Timestamp:
		c.i64[row] = src.I64[i]
	case def.Double:
		c.f64[row] = src.F64[i]
	case def.Bool:
		c.b[row] = src.B[i]
	case def.String:
		c.s[row] = b.str(src.S[i])
	}
}

// SetKey sets join key k of row to row i of src (null if null there).
func (b *Batch) SetKey(row, k int, src *compute.Column, i int) {
	if k < 0 || k >= len(b.schema.Keys) {
		b.fail("join key %d of %d", k, len(b.schema.Keys))
		return
	}
	b.set(b.schema.keyCol+k, row, src, i, "join key")
}

// SetContext sets request context field f of row to row i of src.
func (b *Batch) SetContext(row, f int, src *compute.Column, i int) {
	if f < 0 || f >= len(b.schema.Context) {
		b.fail("request context field %d of %d", f, len(b.schema.Context))
		return
	}
	b.set(b.schema.ctxCol+f, row, src, i, "request context field")
}

// SetFeature sets feature f of row: its value from row i of src, its
// status (0: derived from the value, see Batch), and its event time in
// microseconds, where eventTS 0 means none (null), as in
// featurestore.ReadResult.EventTS.
func (b *Batch) SetFeature(row, f int, src *compute.Column, i int, status featurestore.Status, eventTS int64) {
	if f < 0 || f >= len(b.schema.Features) {
		b.fail("feature %d of %d", f, len(b.schema.Features))
		return
	}
	if status > featurestore.OutsideMaxAge {
		b.fail("feature %q: status %d is not a FieldStatus", b.schema.Features[f].Name, status)
		return
	}
	j := b.schema.featCol + 3*f
	b.set(j, row, src, i, "feature")
	if b.err != nil {
		return
	}
	b.cols[j+1].i64[row] = int64(status)
	ts := &b.cols[j+2]
	ts.i64[row], ts.null[row] = eventTS, eventTS == 0
}

// SetModel sets the model columns of row: the endpoint that routed the
// request, the model and version that answered, and the prediction.
// It is a misuse on a schema without Model.
func (b *Batch) SetModel(row int, endpoint, model string, version int64, prediction float64) {
	if !b.schema.Model {
		b.fail("the schema has no model columns")
		return
	}
	if row < 0 || row >= b.n {
		b.fail("model: row %d of %d", row, b.n)
		return
	}
	j := b.schema.modelCol
	b.cols[j].s[row], b.cols[j].null[row] = b.str(endpoint), false
	b.cols[j+1].s[row], b.cols[j+1].null[row] = b.str(model), false
	b.cols[j+2].i64[row], b.cols[j+2].null[row] = version, false
	b.cols[j+3].f64[row], b.cols[j+3].null[row] = prediction, false
}

// status returns the status written for feature column j (its value
// column) at row.
func (b *Batch) status(j, row int) int32 {
	if s := b.cols[j+1].i64[row]; s != 0 {
		return int32(s)
	}
	if b.cols[j].null[row] {
		return int32(featurestore.NullValue)
	}
	return int32(featurestore.Present)
}
