package featurelog

import (
	"fmt"
	"math"

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
	// The rows, row-major: cell (row, j) is vals[row*len(cols)+j] and
	// null[row*len(cols)+j], so that AddRow is two appends, not two per
	// column. A cell holds an INT64 or TIMESTAMP as int64, a DOUBLE's
	// bits, a BOOL as 0 or 1, a status as int64 (0: unset), and a STRING
	// as its offset in arena << 32 | its length.
	vals []uint64
	null []bool
	// arena holds the bytes of the batch's strings.
	arena []byte
	// err is the first misuse (a type mismatch, a bad index); Submit drops
	// a batch that has one and counts its rows as invalid.
	err error
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
	b.arena, b.vals, b.null = b.arena[:0], b.vals[:0], b.null[:0]
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
	nc := len(b.schema.cols)
	at := len(b.vals)
	b.vals = append(b.vals, make([]uint64, nc)...)
	b.null = append(b.null, b.schema.nullRow...)
	row := b.n
	b.n++
	b.vals[at] = b.str(requestID)
	b.vals[at+1] = uint64(requestTS)
	return row
}

// maxArena bounds a batch's string bytes: a cell holds a string's offset
// in 32 bits.
const maxArena = 1<<32 - 1

// str copies s into the arena and returns its cell.
func (b *Batch) str(s string) uint64 {
	if s == "" {
		return 0
	}
	start := len(b.arena)
	if start+len(s) > maxArena {
		b.fail("more than %d bytes of strings in one batch", maxArena)
		return 0
	}
	b.arena = append(b.arena, s...)
	return uint64(start)<<32 | uint64(len(s))
}

// cellString returns the string a STRING cell holds.
func (b *Batch) cellString(v uint64) []byte {
	off, n := v>>32, v&(1<<32-1)
	return b.arena[off : off+n : off+n]
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
	k := row*len(b.schema.cols) + j
	if src.Null(i) {
		b.null[k] = true
		return
	}
	b.null[k] = false
	switch t {
	case def.Int64, def.Timestamp:
		b.vals[k] = uint64(src.I64[i])
	case def.Double:
		b.vals[k] = math.Float64bits(src.F64[i])
	case def.Bool:
		b.vals[k] = 0
		if src.B[i] {
			b.vals[k] = 1
		}
	case def.String:
		b.vals[k] = b.str(src.S[i])
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
	k := row*len(b.schema.cols) + j
	b.vals[k+1] = uint64(status)
	b.vals[k+2], b.null[k+2] = uint64(eventTS), eventTS == 0
}

// SetModel sets the model columns of row: the endpoint that routed the
// request ("" leaves it null: the request named the model itself), the
// model and version that answered, and the prediction.
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
	k := row*len(b.schema.cols) + b.schema.modelCol
	if endpoint != "" { // "": the request named the model, not an endpoint: null
		b.vals[k], b.null[k] = b.str(endpoint), false
	}
	b.vals[k+1], b.null[k+1] = b.str(model), false
	b.vals[k+2], b.null[k+2] = uint64(version), false
	b.vals[k+3], b.null[k+3] = math.Float64bits(prediction), false
}

// status returns the status written for the feature whose value is cell
// k (row*len(cols)+j): the one set, or the one derived from the value.
func (b *Batch) status(k int) int32 {
	if s := b.vals[k+1]; s != 0 {
		return int32(s)
	}
	if b.null[k] {
		return int32(featurestore.NullValue)
	}
	return int32(featurestore.Present)
}
