package backfill

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// resultStream merges one view's per-partition result spills, each sorted
// by spine row number, into one stream in row-number order.
type resultStream struct {
	readers []*spillReader
	heads   [][]*compute.Column // current record of each reader (one row)
	h       rowHeap
}

type rowHeap struct {
	rows []int64
	ids  []int
}

func (h rowHeap) Len() int           { return len(h.ids) }
func (h rowHeap) Less(i, j int) bool { return h.rows[h.ids[i]] < h.rows[h.ids[j]] }
func (h rowHeap) Swap(i, j int)      { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *rowHeap) Push(x any)        { h.ids = append(h.ids, x.(int)) }
func (h *rowHeap) Pop() any {
	x := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return x
}

func (r *run) openResults(ji int) (*resultStream, error) {
	j := r.jobs[ji]
	s := &resultStream{h: rowHeap{rows: make([]int64, r.parts)}}
	set := &spillSet{name: fmt.Sprintf("res%d", ji)}
	for p := 0; p < r.parts; p++ {
		rd, err := openSpill(set.path(r.tmp, 0, p), j.resLayout)
		if err != nil {
			s.close()
			return nil, err
		}
		s.readers = append(s.readers, rd)
		cols := make([]*compute.Column, len(j.resLayout))
		for i, t := range j.resLayout {
			cols[i] = &compute.Column{Type: t}
		}
		s.heads = append(s.heads, cols)
		if err := s.advance(p); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// advance reads reader p's next record and pushes it on the heap.
func (s *resultStream) advance(p int) error {
	cols := s.heads[p]
	for _, c := range cols {
		c.Len = 0
		c.I64, c.F64, c.B, c.S, c.Valid = c.I64[:0], c.F64[:0], c.B[:0], c.S[:0], c.Valid[:0]
	}
	if err := s.readers[p].readInto(cols); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	s.h.rows[p] = cols[0].I64[0]
	heap.Push(&s.h, p)
	return nil
}

// fill copies the results for spine rows [base, base+n) into out (one
// column per view output, sized n, all null first).
func (s *resultStream) fill(base int64, n int, out []*compute.Column) error {
	for s.h.Len() > 0 {
		p := s.h.ids[0]
		row := s.h.rows[p]
		if row >= base+int64(n) {
			return nil
		}
		heap.Pop(&s.h)
		cols := s.heads[p]
		for k, c := range out {
			src := cols[k+1]
			if src.Null(0) {
				continue
			}
			i := int(row - base)
			c.CopyRow(i, src, 0)
			c.Valid.Set(i)
		}
		if err := s.advance(p); err != nil {
			return err
		}
	}
	return nil
}

func (s *resultStream) close() {
	for _, rd := range s.readers {
		rd.close()
	}
}

// assemble streams the spine in order, merges the results in, computes
// on-demand features, and writes the output.
func (r *run) assemble(ctx context.Context) (Stats, error) {
	streams := make([]*resultStream, len(r.jobs))
	defer func() {
		for _, s := range streams {
			if s != nil {
				s.close()
			}
		}
	}()
	for ji := range r.jobs {
		s, err := r.openResults(ji)
		if err != nil {
			return Stats{}, err
		}
		streams[ji] = s
	}
	first, err := openProjected(r.spine[0], r.spineFields, map[string]bool{r.cfg.TimestampColumn: true})
	if err != nil {
		return Stats{}, err
	}
	spineSchema := first.pf.Schema()
	first.close()

	var features []def.Field
	st := Stats{Nulls: map[string]int64{}, NullRowsByView: map[string]int64{}, SourceRows: map[string]int64{}}
	for _, o := range r.outputs {
		features = append(features, def.Field{Name: o.column, Type: o.typ})
		st.Columns = append(st.Columns, o.column)
	}
	meta, err := r.lineage()
	if err != nil {
		return Stats{}, err
	}
	w, err := newOutputWriter(r.cfg.Out, spineSchema, features, map[string]string{"fstore.lineage": meta}, r.cfg.RowGroupSize)
	if err != nil {
		return Stats{}, err
	}
	ok := false
	defer func() {
		if !ok {
			w.abort()
		}
	}()

	// Per-view result columns and on-demand evaluators, reused per batch.
	viewCols := make([][]*compute.Column, len(r.jobs))
	for ji, j := range r.jobs {
		viewCols[ji] = make([]*compute.Column, len(j.outs))
		for k := range viewCols[ji] {
			viewCols[ji][k] = &compute.Column{}
		}
	}
	odEvs := make([]*compute.OnDemandEvaluator, len(r.ods))
	for i, od := range r.ods {
		odEvs[i] = od.plan.NewEvaluator()
	}
	outCols := make([]*compute.Column, len(r.outputs))
	prof := newProfiler(features)

	var base int64
	var vals []parquet.Value
	rows := make([]parquet.Row, 0, 1024)
	batch := &compute.Batch{}
	for _, path := range r.spine {
		pf, err := openProjected(path, r.spineFields, map[string]bool{r.cfg.TimestampColumn: true})
		if err != nil {
			return Stats{}, err
		}
		for gi, rg := range pf.pf.RowGroups() {
			if err := ctx.Err(); err != nil {
				pf.close()
				return Stats{}, err
			}
			if vals, err = pf.readRowGroup(gi, batch, vals); err != nil {
				pf.close()
				return Stats{}, err
			}
			n := batch.Len
			for ji, j := range r.jobs {
				for k, oi := range j.outs {
					viewCols[ji][k].ResetBitmap(j.plan.Outputs[oi].Type, n, true)
				}
				if err := streams[ji].fill(base, n, viewCols[ji]); err != nil {
					pf.close()
					return Stats{}, err
				}
			}
			odOut := make([][]*compute.Column, len(r.ods))
			for i, od := range r.ods {
				in := &compute.Batch{Len: n}
				for _, c := range od.reqCols {
					in.Cols = append(in.Cols, batch.Cols[c])
				}
				for k := range od.inputJob {
					in.Cols = append(in.Cols, viewCols[od.inputJob[k]][od.inputOut[k]])
				}
				odOut[i] = make([]*compute.Column, len(od.plan.Features))
				for f := range od.plan.Features {
					odOut[i][f] = odEvs[i].Feature(f, in)
				}
			}
			for k, o := range r.outputs {
				if o.view >= 0 {
					outCols[k] = viewCols[o.view][o.out]
				} else {
					outCols[k] = odOut[o.od][o.out]
				}
				st.Nulls[o.column] += int64(outCols[k].Valid.CountNulls(n))
			}
			for ji, j := range r.jobs {
				for i := 0; i < n; i++ {
					all := true
					for k := range j.outs {
						if !viewCols[ji][k].Null(i) {
							all = false
							break
						}
					}
					if all {
						st.NullRowsByView[j.plan.View.Name]++
					}
				}
			}
			prof.add(outCols, n)
			// Pass the spine rows through as they are.
			reader := rg.Rows()
			for done := 0; done < n; {
				rows = rows[:min(cap(rows), n-done)]
				for i := range rows {
					rows[i] = rows[i][:0]
				}
				k, err := reader.ReadRows(rows)
				if k > 0 {
					sub := make([]*compute.Column, len(outCols))
					for c := range outCols {
						sub[c] = sliceColumn(outCols[c], done, k)
					}
					if werr := w.writeBatch(rows[:k], sub); werr != nil {
						reader.Close()
						pf.close()
						return Stats{}, werr
					}
					done += k
				}
				if err != nil && !errors.Is(err, io.EOF) {
					reader.Close()
					pf.close()
					return Stats{}, fmt.Errorf("%w: spine %s: %v", ErrInput, path, err)
				}
				if k == 0 && err != nil {
					break
				}
			}
			reader.Close()
			base += int64(n)
			st.Rows += int64(n)
			r.progress("write", base, r.rows)
		}
		pf.close()
	}
	if err := w.commit(); err != nil {
		return Stats{}, err
	}
	ok = true
	for _, j := range r.jobs {
		st.SourceRows[j.plan.View.Name] = j.sourceRows.Load()
	}
	profPath := r.cfg.Out + ".profile.json"
	if err := prof.write(profPath, r.cfg.Out, st.Rows); err != nil {
		return st, err
	}
	st.Profile = profPath
	return st, nil
}

// sliceColumn returns rows [off, off+n) of c as a column sharing memory
// where the bitmap allows it.
func sliceColumn(c *compute.Column, off, n int) *compute.Column {
	if off == 0 && n == c.Len {
		return c
	}
	out := &compute.Column{Type: c.Type, Len: n}
	switch c.Type {
	case def.Int64, def.Timestamp:
		out.I64 = c.I64[off : off+n]
	case def.Double:
		out.F64 = c.F64[off : off+n]
	case def.Bool:
		out.B = c.B[off : off+n]
	case def.String:
		out.S = c.S[off : off+n]
	}
	if c.Valid != nil {
		out.Valid = make(compute.Bitmap, (n+63)/64)
		for i := 0; i < n; i++ {
			if !c.Null(off + i) {
				out.Valid.Set(i)
			}
		}
	}
	return out
}

// lineage describes what the training set was built from: the registry
// version and every definition used with its content hash, the source and
// spine files with their sizes and modification times.
func (r *run) lineage() (string, error) {
	type file struct {
		Path    string    `json:"path"`
		Size    int64     `json:"size"`
		ModTime time.Time `json:"mtime"`
	}
	type object struct {
		Kind        string `json:"kind"`
		Name        string `json:"name"`
		Version     uint64 `json:"version"`
		ContentHash string `json:"content_hash"`
	}
	stat := func(paths []string) []file {
		var out []file
		for _, p := range paths {
			abs, _ := filepath.Abs(p)
			if st, err := os.Stat(p); err == nil {
				out = append(out, file{abs, st.Size(), st.ModTime().UTC()})
			}
		}
		return out
	}
	l := struct {
		CreatedAt       time.Time         `json:"created_at"`
		RegistryVersion uint64            `json:"registry_version"`
		Service         string            `json:"feature_service,omitempty"`
		Features        []string          `json:"features"`
		Definitions     []object          `json:"definitions"`
		Sources         map[string][]file `json:"sources"`
		Spine           []file            `json:"spine"`
		TimestampColumn string            `json:"timestamp_column"`
		TTLOverride     string            `json:"ttl_override,omitempty"`
	}{
		CreatedAt:       r.cfg.Now().UTC(),
		RegistryVersion: r.cfg.Snapshot.Version,
		Service:         r.cfg.Service,
		Sources:         map[string][]file{},
		Spine:           stat(r.spine),
		TimestampColumn: r.cfg.TimestampColumn,
	}
	if r.cfg.TTLOverride != nil {
		l.TTLOverride = r.cfg.TTLOverride.String()
	}
	for _, o := range r.outputs {
		l.Features = append(l.Features, o.ref.String())
	}
	addObj := func(k def.Kind, name string) {
		if m, ok := r.cfg.Snapshot.Meta(k, name); ok {
			l.Definitions = append(l.Definitions, object{string(k), name, m.Version, m.ContentHash})
		}
	}
	if r.cfg.Service != "" {
		addObj(def.KindFeatureService, r.cfg.Service)
	}
	for _, j := range r.jobs {
		addObj(def.KindFeatureView, j.plan.View.Name)
		addObj(def.KindSource, j.plan.Source.Name)
		for _, e := range j.plan.View.Entities {
			addObj(def.KindEntity, e)
		}
		files, _ := compute.SourceFiles(j.plan.Source.Path)
		l.Sources[j.plan.Source.Name] = stat(files)
	}
	for _, od := range r.ods {
		addObj(def.KindOnDemandView, od.plan.View.Name)
	}
	b, err := json.Marshal(l)
	return string(b), err
}
