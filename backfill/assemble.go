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
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/skewcheck/profile"
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
	for ji, j := range r.jobs {
		if j.bcast != nil {
			continue
		}
		s, err := r.openResults(ji)
		if err != nil {
			return Stats{}, err
		}
		streams[ji] = s
	}
	// Every spine file stays open until the workers are done with it.
	var spineFiles []*pqFile
	defer func() {
		for _, pf := range spineFiles {
			pf.Close()
		}
	}()
	var parquetFiles []*parquet.File
	for _, path := range r.spine {
		pf, err := openProjected(path, r.spineFields, map[string]bool{r.cfg.TimestampColumn: true})
		if err != nil {
			return Stats{}, err
		}
		spineFiles = append(spineFiles, pf)
		parquetFiles = append(parquetFiles, pf.File)
	}
	spineSchema := spineFiles[0].File.Schema()

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
	// The output is written chunk by chunk (spine column chunks copied)
	// when every spine row group fits in an output row group, row by row
	// through parquet-go otherwise.
	var w *outputWriter
	var cw *chunkWriter
	kv := map[string]string{"fstore.lineage": meta}
	if r.cfg.outputPath != outputRows && rawChunkable(parquetFiles, r.cfg.RowGroupSize) {
		cw, err = newChunkWriter(r.cfg.Out, parquetFiles[0], r.keep, features, kv)
	} else {
		w, err = newOutputWriter(r.cfg.Out, spineSchema, r.keep, features, kv, r.cfg.RowGroupSize)
	}
	if err != nil {
		return Stats{}, err
	}
	ok := false
	defer func() {
		if !ok {
			if cw != nil {
				cw.abort()
			} else {
				w.abort()
			}
		}
	}()

	var prof *profile.Profiler // nil with NoProfile
	if !r.cfg.NoProfile {
		prof = profile.New(features)
	}
	// gates is nil when no requested output has a gate (quality.go).
	gates := r.newGates(r.cfg.Strict)
	var mu sync.Mutex // BeginRowGroup is not documented as safe for concurrent use
	odEvs := make([][]*compute.OnDemandEvaluator, r.cfg.Workers)
	batches := make([]*compute.Batch, r.cfg.Workers)
	vals := make([][]parquet.Value, r.cfg.Workers)
	for wk := range odEvs {
		batches[wk] = &compute.Batch{}
		for _, od := range r.ods {
			odEvs[wk] = append(odEvs[wk], od.plan.NewEvaluator())
		}
	}

	// The producer merges results into chunk-owned columns in spine order
	// (the merge is sequential by nature); workers compute on-demand
	// features and encode row groups in parallel; this goroutine commits
	// them in order. At most workers+1 chunks are in flight.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *chunk)
	queue := make(chan *chunk, r.cfg.Workers+1)
	// slots holds a token per chunk that may be in flight: the memory of
	// a finished chunk, reused by the next (nil until there is one).
	slots := make(chan *chunkMem, r.cfg.Workers+1)
	for range r.cfg.Workers + 1 {
		slots <- nil
	}
	var prodErr error
	var wg sync.WaitGroup
	go func() {
		defer close(work)
		defer close(queue)
		var base int64
		for _, pf := range spineFiles {
			for gi, rg := range pf.File.RowGroups() {
				var mem *chunkMem
				select {
				case mem = <-slots:
				case <-ctx.Done():
					return
				}
				n := int(rg.NumRows())
				c := &chunk{file: pf, rowGroup: gi, base: base, n: n, done: make(chan struct{})}
				if mem == nil {
					mem = &chunkMem{cols: make([][]*compute.Column, len(r.jobs)), enc: make([]encodedColumn, len(r.outputs))}
					for ji, j := range r.jobs {
						mem.cols[ji] = make([]*compute.Column, len(j.outs))
						for k := range j.outs {
							mem.cols[ji][k] = &compute.Column{}
						}
					}
				}
				c.mem = mem
				c.viewCols = mem.cols
				for ji, j := range r.jobs {
					for k, oi := range j.outs {
						c.viewCols[ji][k].ResetBitmap(j.plan.Outputs[oi].Type, n, true)
					}
					if j.bcast != nil {
						continue // filled by the worker
					}
					if err := streams[ji].fill(base, n, c.viewCols[ji]); err != nil {
						prodErr = err
						return
					}
				}
				// To a worker first: every queued chunk is then certain to
				// be finished, so the committer never waits on one that no
				// worker took. The queue has room for every chunk in flight.
				select {
				case work <- c:
				case <-ctx.Done():
					return
				}
				queue <- c
				base += int64(n)
			}
		}
	}()
	for wk := 0; wk < r.cfg.Workers; wk++ {
		wg.Add(1)
		go func(wk int) {
			defer wg.Done()
			var gs gatherScratch
			var es encodeScratch
			gw := gates.worker()
			for c := range work {
				c.err = r.buildChunk(c, batches[wk], &vals[wk], &gs, &es, odEvs[wk], w, cw, &mu)
				if c.err == nil {
					// The committer's work is sequential; what of it
					// needs no order is done here, in parallel.
					if prof != nil {
						prof.Prepare(&c.mem.prof, c.outCols, c.n)
					}
					c.viol = gw.check(c)
					c.mem.nulls = c.mem.nulls[:0]
					for _, col := range c.outCols {
						c.mem.nulls = append(c.mem.nulls, int64(col.Valid.CountNulls(c.n)))
					}
					c.mem.nullRows = c.mem.nullRows[:0]
					for ji := range r.jobs {
						c.mem.nullRows = append(c.mem.nullRows, int64(allNull(c.viewCols[ji], c.n)))
					}
				}
				close(c.done)
			}
		}(wk)
	}
	var written int64
	var commitErr error
	for c := range queue {
		<-c.done
		if commitErr == nil && c.err != nil {
			commitErr = c.err
		}
		if commitErr == nil {
			commitErr = gates.commit(r, c, c.viol)
		}
		if commitErr == nil && cw != nil {
			commitErr = cw.writeRowGroup(c.file.File, c.rowGroup, c.mem.enc)
		}
		if commitErr == nil {
			for _, rgw := range c.rgws {
				if _, err := rgw.Commit(); err != nil {
					commitErr = fmt.Errorf("backfill: cannot write output: %w", err)
					break
				}
			}
		}
		if commitErr != nil {
			cancel()
			slots <- nil
			continue
		}
		for k, o := range r.outputs {
			st.Nulls[o.column] += c.mem.nulls[k]
		}
		for ji, j := range r.jobs {
			st.NullRowsByView[j.plan.View.Name] += c.mem.nullRows[ji]
		}
		if prof != nil {
			prof.Merge(&c.mem.prof, c.outCols, c.n)
		}
		written += int64(c.n)
		st.Rows += int64(c.n)
		r.progress("write", written, r.rows)
		slots <- c.mem
	}
	wg.Wait()
	if commitErr != nil {
		return Stats{}, commitErr
	}
	if prodErr != nil {
		return Stats{}, prodErr
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	// The profile is encoded while the output is synced and renamed; it
	// is written once the output is in place.
	var profJSON []byte
	var profErr error
	encoded := make(chan struct{})
	go func() {
		defer close(encoded)
		if st.Violations = gates.results(); prof != nil {
			prof.SetExpectations(st.Violations)
			profJSON, profErr = prof.Encode(r.cfg.Out, st.Rows)
		}
	}()
	if cw != nil {
		err = cw.commit()
	} else {
		err = w.commit()
	}
	<-encoded
	ok = true // commit cleans up after itself on failure
	if err != nil {
		return Stats{}, err
	}
	for _, j := range r.jobs {
		st.SourceRows[j.plan.View.Name] = j.sourceRows.Load()
	}
	profPath := r.cfg.Out + ".profile.json"
	if profErr != nil {
		return st, profErr
	}
	if prof == nil {
		return st, nil
	}
	if err := profile.WriteFile(profPath, profJSON); err != nil {
		return st, err
	}
	st.Profile = profPath
	return st, nil
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

// chunk is one spine row group on its way to the output.
type chunk struct {
	file     *pqFile
	rowGroup int
	base     int64
	n        int
	mem      *chunkMem
	viewCols [][]*compute.Column // mem.cols
	outCols  []*compute.Column   // owned by the chunk once built
	rgws     []*parquet.ConcurrentRowGroupWriter
	viol     []compute.Violation // data-quality gates broken (quality.go)
	err      error
	done     chan struct{}
}

// chunkMem is the memory a chunk owns, reused by a later chunk once the
// chunk is committed: its views' columns and its encoded feature columns.
type chunkMem struct {
	cols [][]*compute.Column
	enc  []encodedColumn
	// prof is the chunk's share of the profile, nulls its null values
	// per output column and nullRows its rows without a value, per view
	// job, all computed by the worker.
	prof     profile.Chunk
	nulls    []int64
	nullRows []int64
}

// allNull returns how many of rows [0, n) are null in every one of cols
// (all of them, when there are no columns).
func allNull(cols []*compute.Column, n int) int {
	some := make(compute.Bitmap, (n+63)/64)
	for _, c := range cols {
		if c.Valid == nil {
			return 0
		}
		for i := range some {
			some[i] |= c.Valid[i]
		}
	}
	return some.CountNulls(n)
}

// buildChunk computes the chunk's on-demand features and encodes its rows
// (the spine's, passed through, and the features) into row groups of at
// most RowGroupSize rows.
func (r *run) buildChunk(c *chunk, batch *compute.Batch, vals *[]parquet.Value, gs *gatherScratch, es *encodeScratch, odEvs []*compute.OnDemandEvaluator, w *outputWriter, cw *chunkWriter, mu *sync.Mutex) error {
	for ji, j := range r.jobs {
		if j.bcast != nil {
			j.bcast.fill(c.base, c.n, c.viewCols[ji], gs)
		}
	}
	odOut := make([][]*compute.Column, len(r.ods))
	if len(r.ods) > 0 {
		var err error
		if *vals, err = readRowGroup(c.file, c.rowGroup, batch, *vals); err != nil {
			return err
		}
		for i, od := range r.ods {
			in := &compute.Batch{Len: c.n}
			for _, col := range od.reqCols {
				in.Cols = append(in.Cols, batch.Cols[col])
			}
			for k := range od.inputJob {
				in.Cols = append(in.Cols, c.viewCols[od.inputJob[k]][od.inputOut[k]])
			}
			odOut[i] = make([]*compute.Column, len(od.plan.Features))
			for f := range od.plan.Features {
				// The evaluator owns its result; the chunk needs its own copy
				// until the committer has profiled it.
				out := &compute.Column{}
				out.Gather(odEvs[i].Feature(f, in), identity(c.n))
				odOut[i][f] = out
			}
		}
	}
	c.outCols = make([]*compute.Column, len(r.outputs))
	for k, o := range r.outputs {
		if o.view >= 0 {
			c.outCols[k] = c.viewCols[o.view][o.out]
		} else {
			c.outCols[k] = odOut[o.od][o.out]
		}
	}
	if cw != nil {
		for k, col := range c.outCols {
			e, err := cw.encodeColumn(col, c.n, c.mem.enc[k].data, es)
			if err != nil {
				return err
			}
			c.mem.enc[k] = e
		}
		return nil
	}
	if w.flat {
		return r.writeColumns(c, w, mu)
	}
	reader := c.file.File.RowGroups()[c.rowGroup].Rows()
	defer reader.Close()
	rows := make([]parquet.Row, min(c.n, 1024))
	var rgw *parquet.ConcurrentRowGroupWriter
	inGroup := int64(0)
	for done := 0; done < c.n; {
		batchRows := rows[:min(len(rows), c.n-done)]
		for i := range batchRows {
			batchRows[i] = batchRows[i][:0]
		}
		k, err := reader.ReadRows(batchRows)
		if k > 0 && !r.keep.all() {
			for i := range batchRows[:k] {
				batchRows[i] = r.keep.project(batchRows[i])
			}
		}
		if k > 0 {
			built := w.buildRows(batchRows[:k], c.outCols, done)
			for len(built) > 0 {
				if rgw == nil || inGroup == r.cfg.RowGroupSize {
					mu.Lock()
					rgw = w.w.BeginRowGroup()
					mu.Unlock()
					c.rgws = append(c.rgws, rgw)
					inGroup = 0
				}
				m := min(int64(len(built)), r.cfg.RowGroupSize-inGroup)
				if _, err := rgw.WriteRows(built[:m]); err != nil {
					return fmt.Errorf("backfill: cannot write output: %w", err)
				}
				inGroup += m
				built = built[m:]
			}
			done += k
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: spine %s: %v", ErrInput, c.file.Path, err)
		}
		if k == 0 && err != nil {
			if done < c.n {
				return fmt.Errorf("%w: spine %s: row group %d ends after %d of %d rows", ErrInput, c.file.Path, c.rowGroup, done, c.n)
			}
			break
		}
	}
	return nil
}

func identity(n int) []int32 {
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	return idx
}

// writeColumns encodes a chunk column by column: every spine column's
// values are copied through, then the features are appended, into row
// groups of at most RowGroupSize rows. It needs a flat spine (one value
// per row in every column).
func (r *run) writeColumns(c *chunk, w *outputWriter, mu *sync.Mutex) error {
	chunks := c.file.File.RowGroups()[c.rowGroup].ColumnChunks()
	readers := make([]parquet.ColumnChunkValueReader, w.spineLeaf)
	defer func() {
		for _, rd := range readers {
			if rd != nil {
				rd.Close()
			}
		}
	}()
	for i := range readers {
		readers[i] = parquet.NewColumnChunkValueReader(chunks[r.keep.leaves[i]])
	}
	vals := make([]parquet.Value, 0, 4096)
	for lo := 0; lo < c.n; {
		hi := min(c.n, lo+int(r.cfg.RowGroupSize))
		mu.Lock()
		rgw := w.w.BeginRowGroup()
		mu.Unlock()
		c.rgws = append(c.rgws, rgw)
		cws := rgw.ColumnWriters()
		for i, rd := range readers {
			for done := lo; done < hi; {
				k, err := rd.ReadValues(vals[:min(cap(vals), hi-done)])
				if r.keep.leaves[i] != i { // a spine column before it is not kept
					for v, x := range vals[:k] {
						vals[:k][v] = x.Level(x.RepetitionLevel(), x.DefinitionLevel(), i)
					}
				}
				if k > 0 {
					if _, werr := cws[i].WriteRowValues(vals[:k]); werr != nil {
						return fmt.Errorf("backfill: cannot write output: %w", werr)
					}
					done += k
				}
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("%w: spine %s: %v", ErrInput, c.file.Path, err)
				}
				if k == 0 {
					return fmt.Errorf("%w: spine %s: row group %d ends after %d of %d rows", ErrInput, c.file.Path, c.rowGroup, done, c.n)
				}
			}
		}
		for k, col := range c.outCols {
			leaf := w.spineLeaf + k
			for b := lo; b < hi; b += cap(vals) {
				vals = appendFeatureValues(vals[:0], col, leaf, b, min(hi, b+cap(vals)))
				if _, err := cws[leaf].WriteRowValues(vals); err != nil {
					return fmt.Errorf("backfill: cannot write output: %w", err)
				}
			}
		}
		lo = hi
	}
	return nil
}
