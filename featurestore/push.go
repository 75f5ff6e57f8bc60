package featurestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// ErrBadEvents is matched by errors about pushed events: wrong types,
// missing join keys or timestamps, unknown columns. Nothing of a push
// that fails with it is written.
var ErrBadEvents = errors.New("featurestore: bad events")

// PushOptions configures Push.
type PushOptions struct {
	// KeyTTL makes written entities expire that long after the write.
	KeyTTL time.Duration
	// BatchSize is the number of entities per store write. Default 1024.
	BatchSize int
	// Now is the clock recorded as the push time, and the one event
	// times are bounded by. Default time.Now.
	Now func() time.Time
	// MaxFuture bounds event times: an event later than Now() + MaxFuture
	// is refused, since it would stay the view's latest event (its value,
	// its freshness) until the clock caught up with it. Default
	// DefaultMaxFuture (1h); negative: no bound.
	MaxFuture time.Duration
}

// EnsureDefaults sets the unset options to their defaults.
func (o *PushOptions) EnsureDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1024
	}
	if o.MaxFuture == 0 {
		o.MaxFuture = DefaultMaxFuture
	}
}

// PushStats reports what Push did.
type PushStats struct {
	// Events is the number of events received; Applied those that passed
	// the view's filter; Entities the entities they touched.
	Events, Applied, Entities int64
	// LatestEvent is the greatest event time pushed (microseconds).
	LatestEvent int64
}

// Push applies events to the online state of view ov, which must read a
// push source. events holds one column per field of the push source's
// declared schema (ov.Push.Source.Schema), in order; build it with an
// EventBuilder. Every event is checked before anything is written: a join
// key or event time that is null fails the whole push with an error naming
// the event and the field, and so is a non-finite DOUBLE value or an
// event time past the MaxFuture bound (see CheckValues). Events go through the view's plan exactly as
// history rows do (filter, features, aggregation inputs) and merge with
// the stored state as the offline semantics order them: the latest row is
// the greatest (event time, created time), a tie going to the later
// arrival; every event counts in its window's tile, whatever order events
// arrive in, and a duplicate pushed twice counts twice, as a duplicated
// history row does.
func Push(ctx context.Context, store OnlineStore, ov *OnlineView, events *compute.Batch, opts PushOptions) (PushStats, error) {
	var st PushStats
	opts.EnsureDefaults()
	pushedAt := opts.Now()
	in, latest, err := checkEvents(ov, events, pushedAt, opts.MaxFuture)
	if err != nil {
		return st, err
	}
	st.Events = int64(events.Len)
	if events.Len == 0 {
		return st, nil
	}
	p := ov.Push
	sc := newScanner(ov, p, math.MinInt64, latest)
	tab := newEntityTable(p)
	st.Applied = sc.add(&in, 0, tab)
	st.Entities = int64(len(tab.keys))
	st.LatestEvent = latest
	var ms MaterializeStats
	mo := MaterializeOptions{KeyTTL: opts.KeyTTL, BatchSize: opts.BatchSize, Workers: 1}
	if err := tab.write(ctx, store, ov, latest, false, true, mo, &ms); err != nil {
		return st, err
	}
	now := pushedAt.UnixMicro()
	err = store.Update(ctx, [][]byte{metaKey(ov.ID, metaPushed)}, 0, func(_ int, old []byte) ([]byte, error) {
		var w Watermark
		if old != nil {
			if err := decodePushed(old, &w); err != nil {
				w = Watermark{} // a corrupt record is replaced, not trusted
			}
		}
		if st.Applied > 0 {
			w.LastPushEvent = max(w.LastPushEvent, latest)
		}
		w.LastPushAt = now
		w.Pushed += st.Events
		return encodePushed(w), nil
	})
	return st, unavailable(err)
}

// CheckEvents checks events for view ov as Push with default options
// does before writing anything, so that a caller pushing one batch into
// several views can refuse it before any view is written.
func CheckEvents(ov *OnlineView, events *compute.Batch) error {
	return CheckEventsWith(ov, events, PushOptions{})
}

// CheckEventsWith is CheckEvents for Push with opts (its Now and
// MaxFuture).
func CheckEventsWith(ov *OnlineView, events *compute.Batch, opts PushOptions) error {
	opts.EnsureDefaults()
	_, _, err := checkEvents(ov, events, opts.Now(), opts.MaxFuture)
	return err
}

// checkEvents runs every check of pushed events: the projection and
// null keys and times (prepareEvents), the values (CheckValues), the
// view's own rules (checkPushed).
func checkEvents(ov *OnlineView, events *compute.Batch, now time.Time, maxFuture time.Duration) (compute.Batch, int64, error) {
	in, latest, err := prepareEvents(ov, events)
	if err != nil {
		return in, latest, err
	}
	if err := CheckValues(ov.Push.Source, events, now, maxFuture); err != nil {
		return in, latest, err
	}
	return in, latest, checkPushed(ov, &in)
}

// prepareEvents projects events onto ov's push plan input and checks
// that no join key or event time is null; it returns the greatest event
// time.
func prepareEvents(ov *OnlineView, events *compute.Batch) (compute.Batch, int64, error) {
	var in compute.Batch
	if ov.Push == nil {
		return in, 0, fmt.Errorf("%w: view %q reads source %q, which is not a push source", ErrBadEvents, ov.Name, ov.historySourceName())
	}
	p := ov.Push
	schema := p.Source.Schema
	if len(events.Cols) != len(schema) {
		return in, 0, fmt.Errorf("%w: push source %q has %d columns, the events %d", ErrBadEvents, p.Source.Name, len(schema), len(events.Cols))
	}
	// Project the schema's columns onto the plan's input.
	in.Len = events.Len
	for _, f := range p.Input.Fields {
		ci := -1
		for i, sf := range schema {
			if sf.Name == f.Name {
				ci = i
			}
		}
		if ci < 0 || events.Cols[ci].Type != f.Type || events.Cols[ci].Len != events.Len {
			return in, 0, fmt.Errorf("%w: push source %q: column %q missing or not %s", ErrBadEvents, p.Source.Name, f.Name, f.Type)
		}
		in.Cols = append(in.Cols, events.Cols[ci])
	}
	latest := int64(math.MinInt64)
	if in.Len == 0 {
		return in, latest, nil
	}
	ts := in.Cols[p.Timestamp]
	for row := 0; row < in.Len; row++ {
		for _, k := range p.Keys {
			if in.Cols[k].Null(row) {
				return in, 0, fmt.Errorf("%w: event %d: join key %q is null", ErrBadEvents, row+1, p.Input.Fields[k].Name)
			}
		}
		if ts.Null(row) {
			return in, 0, fmt.Errorf("%w: event %d: timestamp %q is null", ErrBadEvents, row+1, p.Input.Fields[p.Timestamp].Name)
		}
		latest = max(latest, ts.I64[row])
	}
	return in, latest, nil
}

func (ov *OnlineView) historySourceName() string {
	if ov.History != nil {
		return ov.History.Source.Name
	}
	return "?"
}

// EventBuilder builds the columns of pushed events for a push source's
// schema, checking every value's type, so that decoders of any wire format
// (JSON lines, Feast's push request, Parquet) share one set of rules and
// error messages. Values are set by field index; unset fields are null.
type EventBuilder struct {
	Source *def.Source
	batch  compute.Batch
	row    int // the row setters write: the last added, or one chosen by Row
}

// NewEventBuilder returns a builder for src's declared schema.
func NewEventBuilder(src *def.Source) *EventBuilder {
	b := &EventBuilder{Source: src}
	for _, f := range src.Schema {
		c := &compute.Column{}
		c.ResetBitmap(f.Type, 0, true)
		b.batch.Cols = append(b.batch.Cols, c)
	}
	return b
}

// Field returns the index of the named field, or an error naming it with
// a did-you-mean hint (callers wrap it in ErrBadEvents with the event's
// position).
func (b *EventBuilder) Field(name string) (int, error) {
	for i, f := range b.Source.Schema {
		if f.Name == name {
			return i, nil
		}
	}
	names := make([]string, len(b.Source.Schema))
	for i, f := range b.Source.Schema {
		names[i] = f.Name
	}
	return -1, fmt.Errorf("push source %q has no column %q%s", b.Source.Name, name, def.HintFor(name, names))
}

// AddRow appends an event whose fields are all null.
func (b *EventBuilder) AddRow() {
	n := b.batch.Len
	for _, c := range b.batch.Cols {
		c.AppendZero()
		c.Valid.Clear(n)
	}
	b.batch.Len++
	b.row = n
}

// Row makes the setters write row i (< Len) instead of the last row, for
// decoders of column-major input.
func (b *EventBuilder) Row(i int) { b.row = i }

// Type returns the type of field i.
func (b *EventBuilder) Type(i int) def.ValueType { return b.Source.Schema[i].Type }

// SetInt64 sets field i of the current row (the last, unless Row chose
// another); it must be INT64 or TIMESTAMP
// (microseconds).
func (b *EventBuilder) SetInt64(i int, v int64) { b.set(i).I64[b.row] = v }

// SetDouble sets DOUBLE field i of the last row.
func (b *EventBuilder) SetDouble(i int, v float64) { b.set(i).F64[b.row] = v }

// SetBool sets BOOL field i of the last row.
func (b *EventBuilder) SetBool(i int, v bool) { b.set(i).B[b.row] = v }

// SetString sets STRING field i of the last row.
func (b *EventBuilder) SetString(i int, v string) { b.set(i).S[b.row] = v }

// SetFrom sets field i of the current row to row of c, a non-null value
// of the field's type.
func (b *EventBuilder) SetFrom(i int, c *compute.Column, row int) {
	switch c.Type {
	case def.Int64, def.Timestamp:
		b.SetInt64(i, c.I64[row])
	case def.Double:
		b.SetDouble(i, c.F64[row])
	case def.Bool:
		b.SetBool(i, c.B[row])
	case def.String:
		b.SetString(i, c.S[row])
	}
}

func (b *EventBuilder) set(i int) *compute.Column {
	c := b.batch.Cols[i]
	c.Valid.Set(b.row)
	return c
}

// Len returns the number of rows so far.
func (b *EventBuilder) Len() int { return b.batch.Len }

// Batch returns the events built so far, laid out by the schema.
func (b *EventBuilder) Batch() *compute.Batch { return &b.batch }
