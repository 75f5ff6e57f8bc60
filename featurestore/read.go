package featurestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/encoding"
)

// Status says how a feature value was found, as Feast's FieldStatus does.
type Status uint8

// Statuses. The numbers are Feast's FieldStatus values.
const (
	// Invalid is the zero Status; a read never returns it.
	Invalid Status = 0
	// Present: a value, fresh under the view's TTL.
	Present Status = 1
	// NullValue: the entity's latest event holds null, or the window is
	// empty for an aggregation other than COUNT.
	NullValue Status = 2
	// NotFound: the online state has nothing for the entity (or its key
	// has a null part).
	NotFound Status = 3
	// OutsideMaxAge: the latest event is older than the view's TTL at the
	// read's time; the value is null.
	OutsideMaxAge Status = 4
)

var statusNames = [...]string{"INVALID", "PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"}

// String returns Feast's name of the status.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", s)
}

// ReadResult holds the result of one Read: per output feature, a column of
// values and a status per entity, and per entity the event time of its
// latest row. Reuse one across reads (one per goroutine): after the first
// reads of the largest size, reading allocates nothing but STRING values.
type ReadResult struct {
	// N is the number of entities read.
	N int
	// Values[o] holds output o (the view's features, then aggregations)
	// for every entity; null where the status is not Present.
	Values []compute.Column
	// Status[o][i] is the status of output o for entity i.
	Status [][]Status
	// EventTS[i] is entity i's latest event time in microseconds, or 0
	// when it has none.
	EventTS []int64

	keyBuf []byte
	keys   [][]byte
	idx    []int // idx[k]: the entity of keys[k]
	found  []bool
	vals   []encoding.Value
	derr   error
	cb     func(int, []byte)
	cbView *OnlineView
	// want is the read's selection (nil: all), outs the wanted outputs,
	// sel want compiled for decoding.
	want      []bool
	outs      []int
	sel       encoding.Selection
	rowStatus []Status
	present   []uint64
}

// Read reads n entities of view ov from store, evaluated at t
// (microseconds; the request's "now"). keys holds the view's join key
// columns in key order (ov.KeyNames), each with n rows. It makes one
// store call (one round trip per node) and fills r.
//
// Windows are evaluated at t from the stored tiles, so t should not be
// earlier than the events the store holds: a read cannot travel back
// before the online state's latest events.
func Read(ctx context.Context, store OnlineStore, ov *OnlineView, keys []*compute.Column, n int, t int64, r *ReadResult) error {
	return ReadOutputs(ctx, store, ov, nil, keys, n, t, r)
}

// ReadOutputs is Read for the outputs want selects (want[o] for
// ov.Outputs[o]; nil: all): only those are decoded and evaluated, and
// r.Values[o] and r.Status[o] of the others are empty. A request for 10
// of a view's 50 features decodes 10.
func ReadOutputs(ctx context.Context, store OnlineStore, ov *OnlineView, want []bool, keys []*compute.Column, n int, t int64, r *ReadResult) error {
	if len(keys) != len(ov.KeyTypes) {
		return fmt.Errorf("featurestore: view %q has %d join keys, the read gives %d", ov.Name, len(ov.KeyTypes), len(keys))
	}
	for i, c := range keys {
		if c.Type != ov.KeyTypes[i] || c.Len < n {
			return fmt.Errorf("featurestore: view %q: join key %q: want %d %s values, got %d %s", ov.Name, ov.KeyNames[i], n, ov.KeyTypes[i], c.Len, c.Type)
		}
	}
	if want != nil && len(want) != len(ov.Outputs) {
		return fmt.Errorf("featurestore: view %q has %d outputs, the read selects from %d", ov.Name, len(ov.Outputs), len(want))
	}
	r.reset(ov, want, n)
	for i := 0; i < n; i++ {
		start := len(r.keyBuf)
		var ok bool
		if r.keyBuf, ok = ov.AppendKey(r.keyBuf, keys, i); !ok {
			r.keyBuf = r.keyBuf[:start]
			continue
		}
		r.keys = append(r.keys, r.keyBuf[start:len(r.keyBuf):len(r.keyBuf)])
		r.idx = append(r.idx, i)
	}
	// Keys sliced before keyBuf grew still point at the bytes written then.
	r.derr = nil
	if r.cbView != ov {
		r.cb, r.cbView = r.decode(ov), ov
	}
	err := store.Get(ctx, r.keys, r.cb)
	if err != nil {
		return unavailable(err)
	}
	if r.derr != nil {
		return r.derr
	}
	r.finish(ov, t)
	return nil
}

// decode returns the Get callback for ov. A closure passed through an
// interface escapes, so the result caches it per view (no allocation per
// read). The plain features go straight into their columns.
func (r *ReadResult) decode(ov *OnlineView) func(k int, b []byte) {
	return func(k int, b []byte) {
		i := r.idx[k]
		err := ov.Layout.DecodeColumns(b, &r.vals[i], &r.sel, r.Values, i)
		switch {
		case err == nil:
			r.found[i] = true
		case errors.Is(err, encoding.ErrSchemaVersion):
			// Written for another definition of the view: not found
			// until materialisation rebuilds it.
		default:
			if r.derr == nil {
				r.derr = fmt.Errorf("featurestore: view %q: stored value of entity %d: %w", ov.Name, i, err)
			}
		}
	}
}

func (r *ReadResult) reset(ov *OnlineView, want []bool, n int) {
	r.N = n
	r.want = want
	ov.Layout.Select(want, &r.sel)
	r.keyBuf, r.keys, r.idx = r.keyBuf[:0], r.keys[:0], r.idx[:0]
	if cap(r.found) < n {
		r.found = make([]bool, n)
		r.EventTS = make([]int64, n)
	}
	r.found, r.EventTS = r.found[:n], r.EventTS[:n]
	clear(r.found)
	if cap(r.vals) < n {
		r.vals = append(r.vals[:cap(r.vals)], make([]encoding.Value, n-cap(r.vals))...)
	}
	r.vals = r.vals[:n]
	no := len(ov.Outputs)
	if cap(r.Values) < no {
		r.Values = make([]compute.Column, no)
		r.Status = make([][]Status, no)
	}
	r.Values, r.Status = r.Values[:no], r.Status[:no]
	r.outs = r.outs[:0]
	for o, f := range ov.Outputs {
		if want != nil && !want[o] {
			// Empty, so that a stray use fails loudly rather than reading
			// an earlier read's values; the bitmap keeps its memory for
			// a later read that wants the output.
			c := &r.Values[o]
			valid := c.Valid
			c.Reset(f.Type, 0)
			c.Valid = valid[:0]
			r.Status[o] = r.Status[o][:0]
			continue
		}
		r.outs = append(r.outs, o)
		r.Values[o].ResetBitmap(f.Type, n, true)
		if cap(r.Status[o]) < n {
			r.Status[o] = make([]Status, n)
		}
		r.Status[o] = r.Status[o][:n]
	}
}

// finish sets every wanted output's statuses (and nulls where a value is
// not PRESENT) and evaluates the wanted aggregations.
func (r *ReadResult) finish(ov *OnlineView, t int64) {
	nf := len(ov.Layout.Features)
	// The status of each entity's row, shared by its plain features, as
	// a base from which a feature's validity bit is subtracted: NotFound
	// or OutsideMaxAge where the row decides (its bit will be cleared),
	// else NullValue, which a valid bit turns into Present (NullValue-1).
	// present marks the rows that are Present, a bit a row as in a
	// column's bitmap, so that a feature's statuses are a subtraction a
	// row after masking its bitmap a word at a time, without branches.
	if cap(r.rowStatus) < r.N {
		r.rowStatus = make([]Status, r.N)
	}
	base := r.rowStatus[:r.N]
	nw := (r.N + 63) / 64
	if cap(r.present) < nw {
		r.present = make([]uint64, nw)
	}
	present := r.present[:nw]
	clear(present)
	for i := range base {
		v := &r.vals[i]
		r.EventTS[i] = 0
		switch {
		case !r.found[i] || !v.HasRow:
			base[i] = NotFound
		case !compute.Fresh(v.EventTS, t, ov.TTL):
			r.EventTS[i] = v.EventTS
			base[i] = OutsideMaxAge
		default:
			r.EventTS[i] = v.EventTS
			base[i] = NullValue
			present[i/64] |= 1 << (i % 64)
		}
	}
	for _, o := range r.outs {
		if o >= nf {
			r.finishAgg(ov, o, t)
			continue
		}
		// DecodeColumns wrote the stale or unread rows' values: their
		// bits are cleared.
		valid := r.Values[o].Valid[:nw]
		st := r.Status[o][:len(base)]
		for w, m := range present {
			bits := valid[w] & m
			valid[w] = bits
			lo := w * 64
			bs := base[lo:min(lo+64, len(base))]
			ss := st[lo:]
			ss = ss[:len(bs)]
			for j, b := range bs {
				ss[j] = b - Status(bits&1)
				bits >>= 1
			}
		}
	}
}

// finishAgg evaluates aggregation output o at t for every entity.
func (r *ReadResult) finishAgg(ov *OnlineView, o int, t int64) {
	a := o - len(ov.Layout.Features)
	g := ov.Aggs[a]
	col := &r.Values[o]
	for i := 0; i < r.N; i++ {
		found := r.found[i]
		var acc compute.Acc
		if found {
			acc = g.Eval(r.vals[i].Tiles[a], t)
		}
		col.Valid.Set(i)
		g.Result(&acc, col, i, col.Valid)
		switch {
		case !found && g.Func != def.Count:
			r.Status[o][i] = NotFound
		case col.Valid.Get(i):
			r.Status[o][i] = Present
		default:
			r.Status[o][i] = NullValue
		}
	}
}
