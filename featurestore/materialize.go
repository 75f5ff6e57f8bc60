package featurestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/encoding"
)

// MaterializeOptions configures Materialize.
type MaterializeOptions struct {
	// Views to materialise; empty means every online view with offline
	// history.
	Views []string
	// End is the time the online state is brought up to: every history
	// event at or before it counts. Zero means Now().
	End time.Time
	// Start, when set, skips history events at or before it. Without Full
	// it must not be before the view's watermark (that would count events
	// twice in windows). Zero: from the watermark (incremental), or from
	// the beginning of history when the view was never materialised.
	Start time.Time
	// Full rebuilds the views from their history instead of continuing
	// from the watermark, and deletes entities the history no longer has.
	// A view whose definition changed since its last materialisation is
	// always rebuilt in full.
	Full bool
	// KeyTTL makes written entities expire that long after the write
	// (0: never).
	KeyTTL time.Duration
	// Workers is the parallelism of reading and writing. Default: GOMAXPROCS.
	Workers int
	// BatchSize is the number of entities per store write. Default 1024.
	BatchSize int
	// Progress, when set, is called with the progress of each phase.
	Progress func(MaterializeProgress)
	// Now is the clock for the default End and the watermark's time.
	// Default time.Now.
	Now func() time.Time
	// AllowViolations writes a run that breaks the view's data-quality
	// gates (expect rules, max_freshness_lag) instead of failing it with a
	// QualityError; the violations are reported in MaterializeStats.
	// Default false: a violating run writes nothing and leaves the
	// watermark where it was.
	AllowViolations bool
}

// MaterializeProgress reports one phase of one view.
type MaterializeProgress struct {
	View string
	// Phase is "read" (Done/Total in source rows) or "write" (entities).
	Phase       string
	Done, Total int64
}

// MaterializeStats reports what Materialize did for one view.
type MaterializeStats struct {
	View string
	// Mode is "full", "incremental" or "up to date" (nothing to do).
	Mode string
	// From (exclusive) and Through (inclusive) bound the event times
	// applied, in microseconds; From is math.MinInt64 for all of history.
	From, Through int64
	// Rows is the source rows read; Events those in (From, Through] that
	// passed the filter with a key and a timestamp.
	Rows, Events int64
	// Entities is how many entities had events; Written how many values
	// were written, Skipped how many already included Through (a rerun),
	// Deleted how many stale entities a full rebuild removed.
	Entities, Written, Skipped, Deleted int64
	// Bytes is the size of the values written.
	Bytes    int64
	Duration time.Duration
	// Violations are the data-quality rules the run broke and was allowed
	// to write past (AllowViolations).
	Violations []QualityViolation
}

// Materialize brings the online state of views up to opts.End from their
// offline history, with the views' compiled plans: each entity's latest
// row and the tiles its windows need. It is incremental (from each view's
// watermark), idempotent (a rerun writes nothing new) and crash-safe: each
// entity's value records the materialisation it includes and is written
// atomically, and the watermark moves only after every value, so a killed
// run leaves a readable store and a rerun completes it.
func Materialize(ctx context.Context, ix *def.Index, store OnlineStore, opts MaterializeOptions) ([]MaterializeStats, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1024
	}
	end := opts.End
	if end.IsZero() {
		end = opts.Now()
	}
	if !opts.Start.IsZero() && !opts.Start.Before(end) {
		return nil, fmt.Errorf("featurestore: materialize: start %s is not before end %s", opts.Start.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano))
	}
	names := opts.Views
	explicit := len(names) > 0
	if !explicit {
		names = ix.Names(def.KindFeatureView)
		sort.Strings(names)
	}
	var views []*OnlineView
	for _, name := range names {
		v := ix.FeatureView(name)
		if v == nil {
			return nil, fmt.Errorf("featurestore: materialize: unknown feature view %q%s", name, def.HintFor(name, ix.Names(def.KindFeatureView)))
		}
		if !v.Online {
			if explicit {
				return nil, fmt.Errorf("featurestore: materialize: feature view %q is not online (set online: true)", name)
			}
			continue
		}
		ov, err := CompileOnline(ix, v)
		if err != nil {
			return nil, fmt.Errorf("featurestore: materialize: %w", err)
		}
		if ov.History == nil {
			if explicit {
				return nil, fmt.Errorf("featurestore: materialize: view %q: %w", name, ov.HistoryErr)
			}
			continue
		}
		views = append(views, ov)
	}
	var out []MaterializeStats
	for _, ov := range views {
		st, err := materializeView(ctx, store, ov, opts, end.UnixMicro())
		if err != nil {
			return out, fmt.Errorf("featurestore: materialize %q: %w", ov.Name, err)
		}
		out = append(out, st)
	}
	return out, nil
}

func materializeView(ctx context.Context, store OnlineStore, ov *OnlineView, opts MaterializeOptions, end int64) (MaterializeStats, error) {
	began := time.Now()
	st := MaterializeStats{View: ov.Name, Through: end, From: math.MinInt64}
	wm, err := ReadWatermark(ctx, store, ov)
	if err != nil {
		return st, err
	}
	full := opts.Full || !wm.Materialized() || wm.SchemaVersion != ov.Layout.SchemaVersion
	if !opts.Start.IsZero() {
		st.From = opts.Start.UnixMicro()
	}
	if full {
		st.Mode = "full"
	} else {
		st.Mode = "incremental"
		if opts.Start.IsZero() {
			st.From = wm.Through
		} else if st.From < wm.Through {
			return st, fmt.Errorf("start %s is before the watermark %s: events in between are already in the online state and would count twice in windows (use a later start, or a full rebuild)",
				fmtMicros(st.From), fmtMicros(wm.Through))
		}
		if st.From >= end {
			st.Mode = "up to date"
			st.Duration = time.Since(began)
			return st, nil
		}
	}
	tab, src, err := scanHistory(ctx, ov, st.From, end, opts, &st)
	if err != nil {
		return st, err
	}
	// The gates go before any write: a violating run leaves the store and
	// the watermark as they were.
	if vs := checkMaterialized(ov, tab, src, st.From, end); len(vs) > 0 {
		if !opts.AllowViolations {
			return st, qualityError("materialize", ov.Name, vs)
		}
		st.Violations = vs
	}
	st.Entities = int64(len(tab.keys))
	if err := tab.write(ctx, store, ov, end, full, false, opts, &st); err != nil {
		return st, err
	}
	if full {
		if err := sweepStale(ctx, store, ov, end, opts, &st); err != nil {
			return st, err
		}
	}
	wm.SchemaVersion, wm.Through, wm.At = ov.Layout.SchemaVersion, end, opts.Now().UnixMicro()
	// The watermark goes last: everything it vouches for is written.
	if f, ok := store.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return st, unavailable(err)
		}
	}
	if err := store.Put(ctx, [][]byte{metaKey(ov.ID, metaMaterialized)}, [][]byte{encodeMaterialized(wm)}, 0); err != nil {
		return st, unavailable(err)
	}
	if f, ok := store.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return st, unavailable(err)
		}
	}
	st.Duration = time.Since(began)
	return st, nil
}

func fmtMicros(us int64) string {
	if us == math.MinInt64 {
		return "the beginning"
	}
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}

// entityTable gathers, per entity, the latest event and the events the
// windows need, from history rows in any order.
type entityTable struct {
	nf, na int
	index  map[string]int32
	keys   []string
	// intIndex and ints replace index for views keyed by one INT64.
	intIndex map[int64]int32
	ints     []int64
	// Latest event per entity and its feature values: row e of feats[f].
	ts, created, seq []int64
	feats            []compute.Column
	// Events inside some window at the end, for the aggregations; row i
	// of evVals[a] is event i's value for aggregation a (unused for a
	// COUNT of events).
	evEnt                  []int32
	evTS, evCreated, evSeq []int64
	evVals                 []compute.Column
}

func newEntityTable(p *compute.ViewPlan) *entityTable {
	t := &entityTable{nf: len(p.Features), na: len(p.Aggs), index: map[string]int32{}}
	if len(p.Keys) == 1 && p.Input.Fields[p.Keys[0]].Type == def.Int64 {
		t.intIndex = map[int64]int32{}
	}
	t.feats = make([]compute.Column, t.nf)
	for i, f := range p.Features {
		t.feats[i].ResetBitmap(f.Type, 0, true)
	}
	t.evVals = make([]compute.Column, t.na)
	for a, g := range p.Aggs {
		t.evVals[a].ResetBitmap(g.In, 0, true)
	}
	return t
}

// appendRow appends row of src (nil or null: a null) to dst, a column of
// the same type.
func appendRow(dst, src *compute.Column, row int) {
	n := dst.Len
	dst.Len++
	if n/64 >= len(dst.Valid) {
		dst.Valid = append(dst.Valid, 0)
	}
	null := src == nil || src.Null(row)
	if !null {
		dst.Valid.Set(n)
	}
	switch dst.Type {
	case def.Int64, def.Timestamp:
		var v int64
		if !null {
			v = src.I64[row]
		}
		dst.I64 = append(dst.I64, v)
	case def.Double:
		var v float64
		if !null {
			v = src.F64[row]
		}
		dst.F64 = append(dst.F64, v)
	case def.Bool:
		dst.B = append(dst.B, !null && src.B[row])
	case def.String:
		var v string
		if !null {
			v = src.S[row]
		}
		dst.S = append(dst.S, v)
	}
}

// setRow sets row i of dst (validity included) from row j of src.
func setRow(dst *compute.Column, i int, src *compute.Column, j int) {
	if src.Null(j) {
		dst.Valid.Clear(i)
		return
	}
	dst.Valid.Set(i)
	dst.CopyRow(i, src, j)
}

// later reports whether event (ts, created, seq) comes after entity e's
// latest: by event time, created time, then file order.
func (t *entityTable) later(e int32, ts, created, seq int64) bool {
	if c := compute.CompareEvents(ts, created, t.ts[e], t.created[e]); c != 0 {
		return c > 0
	}
	return seq > t.seq[e]
}

func (t *entityTable) entity(key []byte) (int32, bool) {
	if e, ok := t.index[string(key)]; ok {
		return e, false
	}
	k := string(key)
	e := t.add(k)
	t.index[k] = e
	return e, true
}

// entityInt is entity for views keyed by one INT64 (k, whose encoded key
// is key(k)): the common case, without building and hashing key bytes.
func (t *entityTable) entityInt(k int64, key func(int64) string) (int32, bool) {
	if e, ok := t.intIndex[k]; ok {
		return e, false
	}
	e := t.add(key(k))
	t.intIndex[k] = e
	t.ints = append(t.ints, k)
	return e, true
}

// add appends an entity with no event yet.
func (t *entityTable) add(k string) int32 {
	e := int32(len(t.keys))
	t.keys = append(t.keys, k)
	t.ts = append(t.ts, 0)
	t.created = append(t.created, 0)
	t.seq = append(t.seq, 0)
	for f := range t.feats {
		appendRow(&t.feats[f], nil, 0)
	}
	return e
}

// scanTask is one row group of one file; seq is the file-order number of
// its first row.
type scanTask struct {
	file, rowGroup int
	seq            int64
	rows           int64
}

func scanHistory(ctx context.Context, ov *OnlineView, from, end int64, opts MaterializeOptions, st *MaterializeStats) (*entityTable, *sourceRows, error) {
	p := ov.History
	files, err := compute.SourceFiles(p.Source.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("source %q: %w", p.Source.Name, err)
	}
	src := &sourceRows{files: files}
	timeCols := map[string]bool{p.Input.Fields[p.Timestamp].Name: true}
	if p.Created >= 0 {
		timeCols[p.Input.Fields[p.Created].Name] = true
	}
	opened := make([]*compute.ParquetFile, len(files))
	defer func() {
		for _, f := range opened {
			if f != nil {
				f.Close()
			}
		}
	}()
	var tasks []scanTask
	var total, seq int64
	for i, path := range files {
		f, err := compute.OpenParquet(path, p.Input.Fields, timeCols)
		if err != nil {
			return nil, nil, fmt.Errorf("source %q: %w", p.Source.Name, sourceTypeChanged(ov, path, err))
		}
		opened[i] = f
		src.start = append(src.start, seq)
		for g, rg := range f.File.RowGroups() {
			tasks = append(tasks, scanTask{file: i, rowGroup: g, seq: seq, rows: rg.NumRows()})
			seq += rg.NumRows()
		}
	}
	total = seq
	workers := min(opts.Workers, max(len(tasks), 1))
	tables := make([]*entityTable, workers)
	var next, done, events atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		tables[w] = newEntityTable(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := newScanner(ov, ov.History, from, end)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(tasks) || ctx.Err() != nil {
					break
				}
				t := tasks[i]
				n, err := sc.scan(opened[t.file], t, tables[w])
				if err != nil {
					errs[w] = fmt.Errorf("source %q: %w", p.Source.Name, err)
					next.Store(int64(len(tasks)))
					break
				}
				events.Add(n)
				d := done.Add(t.rows)
				if opts.Progress != nil {
					opts.Progress(MaterializeProgress{View: ov.Name, Phase: "read", Done: d, Total: total})
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	st.Rows, st.Events = total, events.Load()
	tab := tables[0]
	for _, o := range tables[1:] {
		tab.absorb(o)
	}
	return tab, src, nil
}

// absorb merges o's entities and events into t.
func (t *entityTable) absorb(o *entityTable) {
	remap := make([]int32, len(o.keys))
	for oe, k := range o.keys {
		var e int32
		var isNew bool
		if t.intIndex != nil {
			e, isNew = t.entityInt(o.ints[oe], func(int64) string { return k })
		} else {
			e, isNew = t.entity([]byte(k))
		}
		remap[oe] = e
		if isNew || t.later(e, o.ts[oe], o.created[oe], o.seq[oe]) {
			t.ts[e], t.created[e], t.seq[e] = o.ts[oe], o.created[oe], o.seq[oe]
			for f := range t.feats {
				setRow(&t.feats[f], int(e), &o.feats[f], oe)
			}
		}
	}
	for i, oe := range o.evEnt {
		t.evEnt = append(t.evEnt, remap[oe])
		t.evTS = append(t.evTS, o.evTS[i])
		t.evCreated = append(t.evCreated, o.evCreated[i])
		t.evSeq = append(t.evSeq, o.evSeq[i])
		for a := range t.evVals {
			appendRow(&t.evVals[a], &o.evVals[a], i)
		}
	}
}

// scanner reads row groups of a view's history into an entityTable; one
// per goroutine.
type scanner struct {
	ov        *OnlineView
	p         *compute.ViewPlan
	ev        *compute.ViewEvaluator
	from, end int64
	// firstTile[a]: the earliest tile aggregation a's window at end holds.
	firstTile []int64
	batch     compute.Batch
	vals      []parquet.Value
	key       []byte
	keyCols   []*compute.Column
	feats     []*compute.Column
	aggIn     []*compute.Column
	intKey    func(int64) string
}

func newScanner(ov *OnlineView, p *compute.ViewPlan, from, end int64) *scanner {
	s := &scanner{ov: ov, p: p, ev: p.NewEvaluator(), from: from, end: end}
	s.intKey = func(k int64) string {
		s.key = encoding.AppendInt64(encoding.AppendKeyPrefix(s.key[:0], encoding.TagEntity, ov.ID), k)
		return string(s.key)
	}
	for _, g := range p.Aggs {
		s.firstTile = append(s.firstTile, g.TileOf(end)-g.Window/g.Hop+1)
	}
	return s
}

// inWindow reports whether an event at ts falls in some window at end.
func (s *scanner) inWindow(ts int64) bool {
	for a, g := range s.p.Aggs {
		if g.TileOf(ts) >= s.firstTile[a] {
			return true
		}
	}
	return false
}

func (s *scanner) scan(f *compute.ParquetFile, t scanTask, tab *entityTable) (int64, error) {
	var err error
	if s.vals, err = f.ReadRowGroup(t.rowGroup, &s.batch, s.vals); err != nil {
		return 0, err
	}
	return s.add(&s.batch, t.seq, tab), nil
}

// add adds the events of b, laid out by the plan's Input, to tab; row i
// has file (or arrival) order seq+i. It returns the number of events.
func (s *scanner) add(b *compute.Batch, seq0 int64, tab *entityTable) int64 {
	p := s.p
	filter := s.ev.Filter(b)
	s.keyCols = s.keyCols[:0]
	for _, k := range p.Keys {
		s.keyCols = append(s.keyCols, b.Cols[k])
	}
	// Evaluate every expression before reading any result: evaluators own
	// their result columns only until their next call, so collect first.
	s.feats = s.feats[:0]
	for i := range p.Features {
		s.feats = append(s.feats, s.ev.Feature(i, b))
	}
	s.aggIn = s.aggIn[:0]
	for a := range p.Aggs {
		s.aggIn = append(s.aggIn, s.ev.AggInput(a, b))
	}
	tsCol := b.Cols[p.Timestamp]
	var crCol *compute.Column
	if p.Created >= 0 {
		crCol = b.Cols[p.Created]
	}
	var events int64
	for row := 0; row < b.Len; row++ {
		if !compute.Keep(filter, row) || tsCol.Null(row) {
			continue
		}
		ts := tsCol.I64[row]
		if ts <= s.from || ts > s.end {
			continue
		}
		intKey := tab.intIndex != nil
		if intKey {
			if s.keyCols[0].Null(row) {
				continue
			}
		} else {
			var ok bool
			if s.key, ok = s.ov.AppendKey(s.key[:0], s.keyCols, row); !ok {
				continue
			}
		}
		events++
		created := compute.NullCreated
		if crCol != nil && !crCol.Null(row) {
			created = crCol.I64[row]
		}
		seq := seq0 + int64(row)
		var e int32
		var isNew bool
		if intKey {
			e, isNew = tab.entityInt(s.keyCols[0].I64[row], s.intKey)
		} else {
			e, isNew = tab.entity(s.key)
		}
		if isNew || tab.later(e, ts, created, seq) {
			tab.ts[e], tab.created[e], tab.seq[e] = ts, created, seq
			for i, c := range s.feats {
				setRow(&tab.feats[i], int(e), c, row)
			}
		}
		if len(p.Aggs) > 0 && s.inWindow(ts) {
			tab.evEnt = append(tab.evEnt, e)
			tab.evTS = append(tab.evTS, ts)
			tab.evCreated = append(tab.evCreated, created)
			tab.evSeq = append(tab.evSeq, seq)
			for a, c := range s.aggIn {
				appendRow(&tab.evVals[a], c, row)
			}
		}
	}
	return events
}

func scalarAt(c *compute.Column, row int) encoding.Scalar {
	if c.Null(row) {
		return encoding.Scalar{Null: true}
	}
	switch c.Type {
	case def.Int64, def.Timestamp:
		return encoding.Scalar{I: c.I64[row]}
	case def.Double:
		return encoding.Scalar{F: c.F64[row]}
	case def.Bool:
		return encoding.Scalar{B: c.B[row]}
	case def.String:
		return encoding.Scalar{S: c.S[row]}
	}
	return encoding.Scalar{Null: true}
}

// eventRuns sorts the events by (entity, ts, created, file order) and
// returns, per entity, the range of its events: [start[e], start[e+1]).
func (t *entityTable) eventRuns() (order []int32, start []int32) {
	order = make([]int32, len(t.evEnt))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(t.evEnt[a], t.evEnt[b]); c != 0 {
			return c
		}
		if c := compute.CompareEvents(t.evTS[a], t.evCreated[a], t.evTS[b], t.evCreated[b]); c != 0 {
			return c
		}
		return cmp.Compare(t.evSeq[a], t.evSeq[b])
	})
	start = make([]int32, len(t.keys)+1)
	for _, i := range order {
		start[t.evEnt[i]+1]++
	}
	for e := 1; e < len(start); e++ {
		start[e] += start[e-1]
	}
	return order, start
}

// valueBuilder turns an entity of the table into its encoded value,
// merging into the stored one; one per goroutine.
type valueBuilder struct {
	ov    *OnlineView
	tab   *entityTable
	order []int32
	start []int32
	end   int64
	full  bool
	// push merges live events: no rerun check, the stored Through kept,
	// tiles pruned at the entity's latest event.
	push bool
	old  encoding.Value
}

func (vb *valueBuilder) build(e int32, old []byte, dst []byte) ([]byte, bool, error) {
	v := &vb.old
	through := int64(math.MinInt64)
	fresh := true
	if old != nil && !vb.full {
		err := vb.ov.Layout.Decode(old, v)
		switch {
		case err == nil:
			if !vb.push && v.Through >= vb.end {
				return dst, false, nil // a rerun: already included
			}
			through, fresh = v.Through, false
		case errors.Is(err, encoding.ErrSchemaVersion):
			// Another definition's bytes: rebuilt below from this run alone.
		default:
			return dst, false, fmt.Errorf("stored value of %s: %w", describeKey(vb.ov, vb.tab.keys[e]), err)
		}
	}
	if fresh {
		v.Through = math.MinInt64
		v.HasRow, v.EventTS, v.Created = false, 0, 0
		v.Features = v.Features[:0]
		v.Tiles = v.Tiles[:0]
		for range vb.ov.Aggs {
			v.Tiles = append(v.Tiles, nil)
		}
	}
	t := vb.tab
	if !v.HasRow || compute.CompareEvents(t.ts[e], t.created[e], v.EventTS, v.Created) >= 0 {
		v.HasRow, v.EventTS, v.Created = true, t.ts[e], t.created[e]
		v.Features = v.Features[:0]
		for f := range t.feats {
			v.Features = append(v.Features, scalarAt(&t.feats[f], int(e)))
		}
	}
	if len(vb.ov.Aggs) > 0 {
		for _, i := range vb.order[vb.start[e]:vb.start[e+1]] {
			ts := t.evTS[i]
			if !vb.push && ts <= through {
				continue // already in the stored tiles
			}
			for a, g := range vb.ov.Aggs {
				var vals *compute.Column
				if g.Expr != nil {
					vals = &t.evVals[a]
				}
				v.Tiles[a] = g.AddEvent(v.Tiles[a], vals, int(i), ts, t.evCreated[i])
			}
		}
		at := vb.end
		if vb.push {
			at = v.EventTS
		}
		for a, g := range vb.ov.Aggs {
			v.Tiles[a] = g.Prune(v.Tiles[a], at)
		}
	}
	if !vb.push {
		v.Through = vb.end
	}
	return vb.ov.Layout.Append(dst, v), true, nil
}

// describeKey names an entity by its key parts, for error messages.
func describeKey(ov *OnlineView, key string) string {
	_, _, parts, err := encoding.DecodeKey([]byte(key), ov.KeyTypes, nil)
	if err != nil {
		return fmt.Sprintf("key %x", key)
	}
	s := "entity"
	for i, p := range parts {
		if ov.KeyTypes[i] == def.Int64 {
			s += fmt.Sprintf(" %s=%d", ov.KeyNames[i], p.I)
		} else {
			s += fmt.Sprintf(" %s=%q", ov.KeyNames[i], p.S)
		}
	}
	return s
}

// write stores every entity of the table, batch by batch, in parallel.
func (t *entityTable) write(ctx context.Context, store OnlineStore, ov *OnlineView, end int64, full, push bool, opts MaterializeOptions, st *MaterializeStats) error {
	order, start := t.eventRuns()
	n := len(t.keys)
	batches := (n + opts.BatchSize - 1) / opts.BatchSize
	var next, done, written, skipped, bytes atomic.Int64
	workers := min(opts.Workers, max(batches, 1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vb := &valueBuilder{ov: ov, tab: t, order: order, start: start, end: end, full: full, push: push}
			var keys [][]byte
			var keyBuf, arena []byte
			for {
				bi := int(next.Add(1) - 1)
				if bi >= batches || ctx.Err() != nil {
					return
				}
				lo, hi := bi*opts.BatchSize, min((bi+1)*opts.BatchSize, n)
				// Keys are copied into one reused buffer, not one
				// allocation each; slices taken before it grows keep
				// pointing at the bytes written then.
				keys, keyBuf = keys[:0], keyBuf[:0]
				for e := lo; e < hi; e++ {
					at := len(keyBuf)
					keyBuf = append(keyBuf, t.keys[e]...)
					keys = append(keys, keyBuf[at:len(keyBuf):len(keyBuf)])
				}
				arena = arena[:0]
				update := store.Update
				if full {
					// A rebuild ignores stored values: write without reading.
					update = putAll(store)
				}
				err := update(ctx, keys, opts.KeyTTL, func(i int, old []byte) ([]byte, error) {
					at := len(arena)
					var changed bool
					var err error
					arena, changed, err = vb.build(int32(lo+i), old, arena)
					if err != nil {
						return nil, errOurs{err}
					}
					if !changed {
						skipped.Add(1)
						return nil, nil
					}
					written.Add(1)
					bytes.Add(int64(len(arena) - at))
					return arena[at:len(arena):len(arena)], nil
				})
				if err != nil {
					errs[w] = unavailableUnlessOurs(err)
					next.Store(int64(batches))
					return
				}
				d := done.Add(int64(hi - lo))
				if opts.Progress != nil {
					opts.Progress(MaterializeProgress{View: ov.Name, Phase: "write", Done: d, Total: int64(n)})
				}
			}
		}()
	}
	wg.Wait()
	st.Written, st.Skipped, st.Bytes = written.Load(), skipped.Load(), bytes.Load()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// errOurs marks errors that come from fstore's own checks inside a store
// callback, so they are not reported as the store being unavailable.
type errOurs struct{ error }

func (e errOurs) Unwrap() error { return e.error }

func unavailableUnlessOurs(err error) error {
	var o errOurs
	if errors.As(err, &o) {
		return o.error
	}
	return unavailable(err)
}

// sweepStale deletes, after a full rebuild, the view's entities the
// rebuild did not write: gone from history, or written for another
// definition.
func sweepStale(ctx context.Context, store OnlineStore, ov *OnlineView, end int64, opts MaterializeOptions, st *MaterializeStats) error {
	var stale [][]byte
	var v encoding.Value
	err := store.Scan(ctx, ov.Prefix(), func(key, value []byte) error {
		if err := ov.Layout.Decode(value, &v); err != nil || v.Through < end {
			stale = append(stale, slices.Clone(key))
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	for len(stale) > 0 {
		k := min(len(stale), opts.BatchSize)
		if err := store.Delete(ctx, stale[:k]); err != nil {
			return unavailable(err)
		}
		st.Deleted += int64(k)
		stale = stale[k:]
	}
	return nil
}

// putAll returns an Update-shaped function that computes every value from
// nothing and writes them with one Put: for full rebuilds, which ignore
// stored values, so reading them would only cost time.
func putAll(store OnlineStore) func(context.Context, [][]byte, time.Duration, func(int, []byte) ([]byte, error)) error {
	return func(ctx context.Context, keys [][]byte, ttl time.Duration, fn func(int, []byte) ([]byte, error)) error {
		var pk, pv [][]byte
		for i, k := range keys {
			v, err := fn(i, nil)
			if err != nil {
				return err
			}
			if v != nil {
				pk, pv = append(pk, k), append(pv, v)
			}
		}
		if len(pk) == 0 {
			return nil
		}
		return store.Put(ctx, pk, pv, ttl)
	}
}
