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
	"github.com/fstore/fstore/skewcheck/featurelog"
)

// maxTracked bounds the distinct disagreeing entities a group tracks for
// its worst-entities list, so that a replay where everything disagrees
// still runs in bounded memory (about 200 bytes an entity).
const maxTracked = 1 << 20

// maxNames bounds the distinct endpoint and model names a group reports.
const maxNames = 16

// feature is one logged feature as the comparison sees it.
type feature struct {
	name string
	typ  def.ValueType
	// tol is the relative tolerance; 0 compares exactly.
	tol float64
}

// The columns the comparison reads. From a log file (logFields):
// request_ts, the join keys, per feature its value and status, then
// endpoint and model when the schema has them. From the recomputed rows
// (offFields): request_ts, then per feature its offline value.
const (
	requestIDCol = "request_id"
	requestTSCol = "request_ts"
	keyCol       = 1 // first join key in a log batch
)

func logFields(s *featurelog.Schema) []def.Field {
	f := []def.Field{{Name: requestTSCol, Type: def.Timestamp}}
	f = append(f, s.Keys...)
	for _, ft := range s.Features {
		f = append(f, ft, def.Field{Name: ft.Name + "__status", Type: def.Int64})
	}
	if s.Model {
		f = append(f, def.Field{Name: "endpoint", Type: def.String}, def.Field{Name: "model", Type: def.String})
	}
	return f
}

func offFields(feats []feature, offline []string) []def.Field {
	f := []def.Field{{Name: requestTSCol, Type: def.Timestamp}}
	for i, ft := range feats {
		f = append(f, def.Field{Name: offline[i], Type: ft.typ})
	}
	return f
}

// comparer classifies every (row, feature) value of a group, window by
// window: a window is n consecutive rows, the same rows in a log batch
// (from row so) and in a batch of recomputed rows (from row oo).
type comparer struct {
	s        *featurelog.Schema
	feats    []feature
	offline  []string // the recomputed columns' names
	keyNames []string
	featCol  int // first feature column of a log batch
	model    bool
	counts   []Counts
	entities map[string]*entity
	approx   bool
	// bad[i] is the first disagreeing feature of row i of the window
	// (-1: none); nbad[i] counts its disagreeing values.
	bad, nbad []int32
	keyBuf    []byte
	seq       int64
	// rows counts the rows compared (those in range).
	rows                int64
	endpoints, models   map[string]bool
	moreEndpoints, more bool
}

type entity struct {
	rows, values int64
	seq          int64
	// file and row locate the example's row: its request_id is read once
	// the worst entities are known.
	file    int
	row     int64
	keys    []KeyValue
	example Example
}

func newComparer(s *featurelog.Schema, feats []feature, offline []string) *comparer {
	c := &comparer{s: s, feats: feats, offline: offline, counts: make([]Counts, len(feats)), entities: map[string]*entity{},
		featCol: keyCol + len(s.Keys), model: s.Model, endpoints: map[string]bool{}, models: map[string]bool{}}
	for _, k := range s.Keys {
		c.keyNames = append(c.keyNames, k.Name)
	}
	return c
}

// window compares rows [so, so+n) of the log batch lb (of file file, whose
// row 0 is row base of the file) with rows [oo, oo+n) of the recomputed
// batch ob. skip, when set, marks the log rows outside the time range.
func (c *comparer) window(lb *compute.Batch, so int, ob *compute.Batch, oo, n int, skip []bool, file int, base int64) error {
	lts, ots := lb.Cols[0].I64[so:so+n], ob.Cols[0].I64[oo:oo+n]
	for i := range lts {
		if lts[i] != ots[i] {
			return fmt.Errorf("%w: the offline engine returned a row with request_ts %s where the log has %s (file row %d): spine order lost",
				ErrLog, time.UnixMicro(ots[i]).UTC().Format(time.RFC3339Nano), time.UnixMicro(lts[i]).UTC().Format(time.RFC3339Nano), base+int64(so+i))
		}
	}
	if skip != nil {
		skip = skip[so : so+n]
	}
	if cap(c.bad) < n {
		c.bad, c.nbad = make([]int32, n), make([]int32, n)
	}
	bad, nbad := c.bad[:n], c.nbad[:n]
	for i := range bad {
		bad[i], nbad[i] = -1, 0
	}
	for fi, f := range c.feats {
		j := c.featCol + 2*fi
		w := win{served: lb.Cols[j], so: so, status: lb.Cols[j+1].I64[so : so+n], off: ob.Cols[1+fi], oo: oo, n: n, skip: skip}
		cnt := &c.counts[fi]
		k := int32(fi)
		switch {
		case f.typ == def.Double && f.tol > 0:
			tol := f.tol
			classify(&w, w.served.F64, w.off.F64, func(a, b float64) bool { return closeTo(a, b, tol) }, cnt, bad, nbad, k)
		case f.typ == def.Double:
			classify(&w, w.served.F64, w.off.F64, sameFloat, cnt, bad, nbad, k)
		case f.typ == def.Int64 || f.typ == def.Timestamp:
			classify(&w, w.served.I64, w.off.I64, func(a, b int64) bool { return a == b }, cnt, bad, nbad, k)
		case f.typ == def.Bool:
			classify(&w, w.served.B, w.off.B, func(a, b bool) bool { return a == b }, cnt, bad, nbad, k)
		case f.typ == def.String:
			classify(&w, w.served.S, w.off.S, func(a, b string) bool { return a == b }, cnt, bad, nbad, k)
		}
	}
	in := int64(n)
	for i := 0; i < n; i++ {
		if skip != nil && skip[i] {
			in--
			continue
		}
		if bad[i] >= 0 {
			c.note(lb, so+i, ob, oo+i, int(bad[i]), int64(nbad[i]), file, base)
		}
	}
	c.rows += in
	if c.model {
		c.names(lb.Cols[len(lb.Cols)-2], so, n, skip, c.endpoints, &c.moreEndpoints)
		c.names(lb.Cols[len(lb.Cols)-1], so, n, skip, c.models, &c.more)
	}
	return nil
}

// names collects the distinct non-null values of a string column, at
// most maxNames.
func (c *comparer) names(col *compute.Column, so, n int, skip []bool, set map[string]bool, more *bool) {
	for i := 0; i < n; i++ {
		if (skip != nil && skip[i]) || col.Null(so+i) {
			continue
		}
		if v := col.S[so+i]; !set[v] {
			if len(set) >= maxNames {
				*more = true
				return
			}
			set[v] = true
		}
	}
}

// win is one feature's columns over a window.
type win struct {
	served, off *compute.Column
	so, oo, n   int
	status      []int64
	skip        []bool
}

// classify counts the n values of one feature in a window: a served value
// is non-null when its status is PRESENT and its value is set; the offline
// value when it is set. Rows with a disagreeing value are marked in bad
// (first feature) and nbad (count).
func classify[T any](w *win, a, b []T, eq func(T, T) bool, cnt *Counts, bad, nbad []int32, fi int32) {
	var compared, match, mismatch, servedOnly, offlineOnly int64
	a, b = a[w.so:], b[w.oo:]
	sv, ov := w.served.Valid, w.off.Valid
	for i := 0; i < w.n; i++ {
		if w.skip != nil && w.skip[i] {
			continue
		}
		compared++
		s := w.status[i] == int64(featurestore.Present) && sv.Get(w.so+i)
		o := ov.Get(w.oo + i)
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
	cnt.Compared += compared
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

// note counts log row i's disagreement (recomputed row k) against its
// entity, tracking the entity (with the row as its example) when first
// seen.
func (c *comparer) note(lb *compute.Batch, i int, ob *compute.Batch, k, fi int, values int64, file int, base int64) {
	kb := c.keyBuf[:0]
	for q := range c.keyNames {
		col := lb.Cols[keyCol+q]
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
	e := &entity{rows: 1, values: values, seq: c.seq, file: file, row: base + int64(i)}
	c.seq++
	for q, name := range c.keyNames {
		e.keys = append(e.keys, KeyValue{Name: name, Value: format(lb.Cols[keyCol+q], i)})
	}
	j := c.featCol + 2*fi
	served, status, off := lb.Cols[j], featurestore.Status(lb.Cols[j+1].I64[i]), ob.Cols[1+fi]
	x := Example{
		RequestTS:     time.UnixMicro(lb.Cols[0].I64[i]).UTC(),
		Feature:       c.feats[fi].name,
		Served:        format(served, i),
		Offline:       format(off, k),
		ServedStatus:  status.String(),
		OfflineStatus: featurestore.Present.String(),
	}
	if off.Null(k) {
		x.OfflineStatus = featurestore.NullValue.String()
	}
	s, o := status == featurestore.Present && !served.Null(i), !off.Null(k)
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
// first seen, and their examples' locations.
func (c *comparer) worst(n int) ([]EntityReport, []*entity) {
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
	all = all[:min(n, len(all))]
	out := []EntityReport{}
	for _, e := range all {
		out = append(out, EntityReport{Keys: e.keys, Rows: e.rows, Values: e.values, Example: e.example})
	}
	return out, all
}

// requestIDs fills in the request IDs of the examples of ws (located by
// es), reading only the log row groups that hold them.
func requestIDs(paths []string, ws []EntityReport, es []*entity) error {
	for fi, path := range paths {
		var want []int
		for k, e := range es {
			if e.file == fi {
				want = append(want, k)
			}
		}
		if len(want) == 0 {
			continue
		}
		p, err := compute.OpenParquet(path, []def.Field{{Name: requestIDCol, Type: def.String}}, nil)
		if err != nil {
			return fmt.Errorf("replay: cannot read the log: %w", err)
		}
		var (
			b    compute.Batch
			vals []parquet.Value
			off  int64
		)
		for g, rg := range p.File.RowGroups() {
			n := rg.NumRows()
			read := false
			for _, k := range want {
				r := es[k].row
				if r < off || r >= off+n {
					continue
				}
				if !read {
					if vals, err = p.ReadRowGroup(g, &b, vals); err != nil {
						p.Close()
						return fmt.Errorf("replay: cannot read the log: %s: row group %d: %w", path, g, err)
					}
					read = true
				}
				ws[k].Example.RequestID = b.Cols[0].S[r-off]
			}
			off += n
		}
		p.Close()
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
