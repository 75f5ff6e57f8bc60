package replay

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
)

// keyCol is the first join key in the comparer's projection.
const keyCol = 2

// maxTracked bounds the distinct disagreeing entities a group tracks for
// its worst-entities list, so that a replay where everything disagrees
// still runs in bounded memory (about 200 bytes an entity).
const maxTracked = 1 << 20

// feature is one logged feature as the comparison sees it.
type feature struct {
	name string
	typ  def.ValueType
	// tol is the relative tolerance; 0 compares exactly.
	tol float64
}

// comparer reads a backfill output (the spine's columns carried through,
// then the recomputed features) row group by row group and classifies
// every (row, feature) value, column by column.
type comparer struct {
	l     *spineLayout
	feats []feature
	// fields is the projection read: replay_row, request_ts,
	// the keys, then per feature served, status, offline.
	fields   []def.Field
	offCol   int // first per-feature column in fields
	nkeys    int
	counts   []Counts
	entities map[string]*entity
	approx   bool
	// bad[i] is the first disagreeing feature of row i of the row group
	// (-1: none); nbad[i] counts its disagreeing values.
	bad, nbad []int32
	keyBuf    []byte
	next      int64
	seq       int64
}

type entity struct {
	rows, values int64
	seq          int64
	// row is the example's replay_row.
	row     int64
	keys    []KeyValue
	example Example
}

func newComparer(l *spineLayout, feats []feature, offline []string) *comparer {
	c := &comparer{l: l, feats: feats, counts: make([]Counts, len(feats)), entities: map[string]*entity{}}
	// request_id is not read here: it is looked up for the examples of
	// the worst entities only (requestIDs).
	c.fields = append(c.fields, l.fields[0], l.fields[2])
	c.fields = append(c.fields, l.fields[l.keyCol:l.ctxCol]...)
	c.nkeys = l.ctxCol - l.keyCol
	c.offCol = len(c.fields)
	for i, f := range feats {
		c.fields = append(c.fields, l.fields[l.featCol+2*i], l.fields[l.featCol+2*i+1], def.Field{Name: offline[i], Type: f.typ})
	}
	return c
}

// run compares the whole output file, reporting progress after each row
// group.
func (c *comparer) run(path string, progress func(done int64)) error {
	timeCols := map[string]bool{}
	for _, f := range c.fields {
		if f.Type == def.Timestamp {
			timeCols[f.Name] = true
		}
	}
	p, err := compute.OpenParquet(path, c.fields, timeCols)
	if err != nil {
		return fmt.Errorf("replay: cannot read the recomputed rows: %w", err)
	}
	defer p.Close()
	var (
		b    compute.Batch
		vals []parquet.Value
	)
	for g := range p.File.RowGroups() {
		if vals, err = p.ReadRowGroup(g, &b, vals); err != nil {
			return fmt.Errorf("replay: cannot read the recomputed rows: row group %d: %w", g, err)
		}
		if err := c.batch(&b); err != nil {
			return err
		}
		progress(c.next)
	}
	return nil
}

func (c *comparer) batch(b *compute.Batch) error {
	n := b.Len
	rowID := b.Cols[0].I64
	for i := 0; i < n; i++ {
		if rowID[i] != c.next+int64(i) {
			return fmt.Errorf("%w: the offline engine returned spine row %d as row %d: spine order lost", ErrLog, rowID[i], c.next+int64(i))
		}
	}
	if cap(c.bad) < n {
		c.bad, c.nbad = make([]int32, n), make([]int32, n)
	}
	bad, nbad := c.bad[:n], c.nbad[:n]
	for i := range bad {
		bad[i], nbad[i] = -1, 0
	}
	for fi, f := range c.feats {
		j := c.offCol + 3*fi
		served, status, off := b.Cols[j], b.Cols[j+1].I64, b.Cols[j+2]
		cnt := &c.counts[fi]
		k := int32(fi)
		switch {
		case f.typ == def.Double && f.tol > 0:
			tol := f.tol
			classify(n, served, status, off, served.F64, off.F64, func(a, b float64) bool { return closeTo(a, b, tol) }, cnt, bad, nbad, k)
		case f.typ == def.Double:
			classify(n, served, status, off, served.F64, off.F64, sameFloat, cnt, bad, nbad, k)
		case f.typ == def.Int64 || f.typ == def.Timestamp:
			classify(n, served, status, off, served.I64, off.I64, func(a, b int64) bool { return a == b }, cnt, bad, nbad, k)
		case f.typ == def.Bool:
			classify(n, served, status, off, served.B, off.B, func(a, b bool) bool { return a == b }, cnt, bad, nbad, k)
		case f.typ == def.String:
			classify(n, served, status, off, served.S, off.S, func(a, b string) bool { return a == b }, cnt, bad, nbad, k)
		}
	}
	for i := 0; i < n; i++ {
		if bad[i] >= 0 {
			c.note(b, i, int(bad[i]), int64(nbad[i]))
		}
	}
	c.next += int64(n)
	return nil
}

// classify counts the n values of one feature in a row group: a served
// value is non-null when its status is PRESENT and its value is set; the
// offline value when it is set. Rows with a disagreeing value are marked
// in bad (first feature) and nbad (count).
func classify[T any](n int, served *compute.Column, status []int64, off *compute.Column, a, b []T, eq func(T, T) bool, cnt *Counts, bad, nbad []int32, fi int32) {
	var match, mismatch, servedOnly, offlineOnly int64
	for i := 0; i < n; i++ {
		s := status[i] == int64(featurestore.Present) && served.Valid.Get(i)
		o := off.Valid.Get(i)
		switch {
		case s && o:
			if eq(a[i], b[i]) {
				match++
				continue
			}
			mismatch++
		case !s && !o:
			match++
			continue
		case s:
			servedOnly++
		default:
			offlineOnly++
		}
		if bad[i] < 0 {
			bad[i] = fi
		}
		nbad[i]++
	}
	cnt.Compared += int64(n)
	cnt.Match += match
	cnt.Mismatch += mismatch
	cnt.ServedOnly += servedOnly
	cnt.OfflineOnly += offlineOnly
}

// sameFloat compares bit for bit, any NaN equal to any NaN.
func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b)
}

// closeTo is sameFloat, or |a-b| <= tol·max(|a|,|b|) for finite values.
func closeTo(a, b, tol float64) bool {
	if sameFloat(a, b) {
		return true
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) || a != a || b != b {
		return false
	}
	return math.Abs(a-b) <= tol*max(math.Abs(a), math.Abs(b))
}

// note counts row i's disagreement against its entity, tracking the
// entity (with row i as its example) when first seen.
func (c *comparer) note(b *compute.Batch, i, fi int, values int64) {
	kb := c.keyBuf[:0]
	for k := 0; k < c.nkeys; k++ {
		col := b.Cols[keyCol+k]
		if col.Null(i) {
			kb = append(kb, 0)
			continue
		}
		switch col.Type {
		case def.Int64:
			kb = append(kb, 1)
			kb = strconv.AppendInt(kb, col.I64[i], 10)
		case def.String:
			kb = append(kb, 2)
			kb = strconv.AppendInt(kb, int64(len(col.S[i])), 10)
			kb = append(kb, ':')
			kb = append(kb, col.S[i]...)
		}
	}
	c.keyBuf = kb
	if e, ok := c.entities[string(kb)]; ok {
		e.rows++
		e.values += values
		return
	}
	if len(c.entities) >= maxTracked {
		c.approx = true
		return
	}
	e := &entity{rows: 1, values: values, seq: c.seq, row: b.Cols[0].I64[i]}
	c.seq++
	for k := 0; k < c.nkeys; k++ {
		col := b.Cols[keyCol+k]
		e.keys = append(e.keys, KeyValue{Name: c.fields[keyCol+k].Name, Value: format(col, i)})
	}
	j := c.offCol + 3*fi
	served, status, off := b.Cols[j], featurestore.Status(b.Cols[j+1].I64[i]), b.Cols[j+2]
	x := Example{
		RequestTS:     time.UnixMicro(b.Cols[1].I64[i]).UTC(),
		Feature:       c.feats[fi].name,
		Served:        format(served, i),
		Offline:       format(off, i),
		ServedStatus:  status.String(),
		OfflineStatus: featurestore.Present.String(),
	}
	if off.Null(i) {
		x.OfflineStatus = featurestore.NullValue.String()
	}
	s, o := status == featurestore.Present && !served.Null(i), !off.Null(i)
	switch {
	case s && o:
		x.Category = "mismatch"
	case s:
		x.Category = "served_only"
	default:
		x.Category = "offline_only"
	}
	e.example = x
	c.entities[string(kb)] = e
}

// worst returns the n entities with the most disagreeing rows, ties by
// first seen.
func (c *comparer) worst(n int) ([]EntityReport, []int64) {
	all := make([]*entity, 0, len(c.entities))
	for _, e := range c.entities {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b *entity) int {
		if r := cmp.Compare(b.rows, a.rows); r != 0 {
			return r
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out, rows := []EntityReport{}, []int64{}
	for _, e := range all[:min(n, len(all))] {
		out = append(out, EntityReport{Keys: e.keys, Rows: e.rows, Values: e.values, Example: e.example})
		rows = append(rows, e.row)
	}
	return out, rows
}

// requestIDs fills in the request IDs of the examples of ws (whose
// replay_rows are rows), reading only the row groups that hold them.
func requestIDs(path string, ws []EntityReport, rows []int64) error {
	if len(ws) == 0 {
		return nil
	}
	p, err := compute.OpenParquet(path, []def.Field{{Name: requestIDCol, Type: def.String}}, nil)
	if err != nil {
		return fmt.Errorf("replay: cannot read the recomputed rows: %w", err)
	}
	defer p.Close()
	var (
		b    compute.Batch
		vals []parquet.Value
		off  int64
	)
	for g, rg := range p.File.RowGroups() {
		n := rg.NumRows()
		read := false
		for k, r := range rows {
			if r < off || r >= off+n {
				continue
			}
			if !read {
				if vals, err = p.ReadRowGroup(g, &b, vals); err != nil {
					return fmt.Errorf("replay: cannot read the recomputed rows: row group %d: %w", g, err)
				}
				read = true
			}
			ws[k].Example.RequestID = b.Cols[0].S[r-off]
		}
		off += n
	}
	return nil
}

// format renders row i of col for the report; nil when null.
func format(col *compute.Column, i int) *string {
	if col.Null(i) {
		return nil
	}
	var s string
	switch col.Type {
	case def.Int64:
		s = strconv.FormatInt(col.I64[i], 10)
	case def.Timestamp:
		s = time.UnixMicro(col.I64[i]).UTC().Format(time.RFC3339Nano)
	case def.Double:
		s = strconv.FormatFloat(col.F64[i], 'g', -1, 64)
	case def.Bool:
		s = strconv.FormatBool(col.B[i])
	case def.String:
		s = col.S[i]
	}
	return &s
}
