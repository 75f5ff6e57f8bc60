package backfill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// viewJob is one feature view the backfill needs.
type viewJob struct {
	plan *compute.ViewPlan
	sig  int // index into keySigs
	// outs are the plan outputs needed (requested or read by an on-demand
	// view), as indexes into plan.Outputs.
	outs []int
	ttl  int64
	// layout of the view's source spill: keys, ts, created, seq, then the
	// needed plain features, then aggregation inputs.
	srcLayout []def.ValueType
	// aggInput maps aggregation i to its column in the source spill (-1
	// for COUNT of events).
	aggInput []int
	// featCol maps output index (in outs order) to its source spill column
	// for plain features; -1 for aggregations.
	featCol []int
	// resLayout is the result spill layout: row number, then outs.
	resLayout  []def.ValueType
	sourceRows atomic.Int64
	// bcast is the view's broadcast-join state, nil when the view goes
	// through the spill path.
	bcast *bcastView
}

// keySig is one distinct set of join keys among the needed views.
type keySig struct {
	names []string
	types []def.ValueType
	// spine column index of each key in the spine scan batch
	spineCols []int
	// spill is set when a spilled view uses the signature: the spine scan
	// then spills it too. index is set when a broadcast view uses it.
	spill   bool
	index   *spineIndex
	builder *spineIndexBuilder
}

// output is one requested feature column.
type output struct {
	ref    def.FeatureRef
	column string
	typ    def.ValueType
	view   int // index into jobs, or -1 for on-demand
	out    int // index into job.outs, or on-demand feature index
	od     int // index into ods when view < 0
}

type odJob struct {
	plan *compute.OnDemandPlan
	// inputs map each plan input (after request fields) to (job, out).
	inputJob, inputOut []int
	// request fields' columns in the spine scan batch
	reqCols []int
}

type run struct {
	cfg     Config
	ix      *def.Index
	jobs    []*viewJob
	sigs    []*keySig
	outputs []output
	ods     []*odJob
	spine   []string // spine files
	keep    *spineCols
	// spine scan projection: ts, keys of every sig, request fields
	spineFields []def.Field
	spineTS     int
	parts       int
	// bcastBytes is the memory the broadcast views' state holds.
	bcastBytes int64
	tmp        string
	rows       int64
	startTime  time.Time
}

// Run builds a training set. See Config and the package documentation.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	cfg.ensureDefaults()
	if err := cfg.validate(); err != nil {
		return Stats{}, err
	}
	r := &run{cfg: cfg, ix: cfg.Snapshot.Index, startTime: time.Now()}
	if err := r.resolve(); err != nil {
		return Stats{}, err
	}
	if err := r.openSpine(); err != nil {
		return Stats{}, err
	}
	if err := r.choosePlans(); err != nil {
		return Stats{}, err
	}
	tmp, err := os.MkdirTemp(cfg.TempDir, "fstore-backfill-")
	if err != nil {
		return Stats{}, fmt.Errorf("backfill: cannot create spill directory: %w", err)
	}
	r.tmp = tmp
	defer os.RemoveAll(tmp)
	// The broadcast state lives outside the Go heap (allocWords); every
	// goroutine that reads it has returned by the time this runs.
	defer func() {
		for _, j := range r.jobs {
			if j.bcast != nil {
				j.bcast.release()
			}
		}
	}()
	r.parts = r.partitionCount()

	phases := map[string]time.Duration{}
	mark := time.Now()
	lap := func(name string) {
		phases[name] = time.Since(mark)
		mark = time.Now()
	}
	if err := r.scanSpine(ctx); err != nil {
		return Stats{}, err
	}
	if err := r.scanSources(ctx); err != nil {
		return Stats{}, err
	}
	lap("scan")
	if err := r.join(ctx); err != nil {
		return Stats{}, err
	}
	lap("join")
	st, err := r.assemble(ctx)
	if err != nil {
		return Stats{}, err
	}
	lap("write")
	st.Phases = phases
	st.Plans = map[string]string{}
	for _, j := range r.jobs {
		st.Plans[j.plan.View.Name] = "spill"
		if j.bcast != nil {
			st.Plans[j.plan.View.Name] = "broadcast"
		}
	}
	st.Partitions = r.parts
	st.Elapsed = time.Since(r.startTime)
	st.PeakRSS = peakRSS()
	return st, nil
}

// resolve turns the requested references into view jobs, on-demand jobs
// and output columns.
func (r *run) resolve() error {
	var refs []def.FeatureRef
	var err error
	if r.cfg.Service != "" {
		refs, err = r.ix.ServiceFeatures(r.cfg.Service)
	} else {
		refs, err = r.ix.ExpandRefs(r.cfg.Features)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	jobOf := map[string]int{}
	addView := func(name string) (int, error) {
		if i, ok := jobOf[name]; ok {
			return i, nil
		}
		p, err := compute.CompileOffline(r.ix, r.ix.FeatureView(name))
		if err != nil {
			if errors.Is(err, compute.ErrNoHistory) {
				return 0, fmt.Errorf("%w: %v", ErrConfig, err)
			}
			return 0, fmt.Errorf("%w: %v", ErrInput, err)
		}
		j := &viewJob{plan: p, ttl: p.TTL}
		if r.cfg.TTLOverride != nil {
			j.ttl = r.cfg.TTLOverride.Microseconds()
		}
		// Key signature.
		var names []string
		var types []def.ValueType
		for _, k := range p.Keys {
			names = append(names, p.Input.Fields[k].Name)
			types = append(types, p.Input.Fields[k].Type)
		}
		j.sig = -1
		for si, s := range r.sigs {
			if slices.Equal(s.names, names) {
				j.sig = si
			}
		}
		if j.sig < 0 {
			r.sigs = append(r.sigs, &keySig{names: names, types: types})
			j.sig = len(r.sigs) - 1
		}
		r.jobs = append(r.jobs, j)
		jobOf[name] = len(r.jobs) - 1
		return len(r.jobs) - 1, nil
	}
	need := func(ji int, feature string) (int, def.ValueType, error) {
		j := r.jobs[ji]
		for oi, o := range j.plan.Outputs {
			if o.Name == feature {
				for k, have := range j.outs {
					if have == oi {
						return k, o.Type, nil
					}
				}
				j.outs = append(j.outs, oi)
				return len(j.outs) - 1, o.Type, nil
			}
		}
		return 0, 0, fmt.Errorf("%w: view %q has no feature %q", ErrConfig, j.plan.View.Name, feature)
	}
	odOf := map[string]int{}
	for _, ref := range refs {
		if r.ix.FeatureView(ref.View) != nil {
			ji, err := addView(ref.View)
			if err != nil {
				return err
			}
			oi, typ, err := need(ji, ref.Feature)
			if err != nil {
				return err
			}
			r.outputs = append(r.outputs, output{ref: ref, column: ref.Column(), typ: typ, view: ji, out: oi})
			continue
		}
		odv := r.ix.OnDemandView(ref.View)
		oi, ok := odOf[ref.View]
		if !ok {
			od := &odJob{}
			p, err := compute.CompileOnDemand(r.ix, odv, func(view string) ([]def.Field, error) {
				ji, err := addView(view)
				if err != nil {
					return nil, err
				}
				return r.jobs[ji].plan.Outputs, nil
			})
			if err != nil {
				return fmt.Errorf("%w: %v", ErrInput, err)
			}
			od.plan = p
			for _, in := range p.Inputs {
				ji := jobOf[in.View]
				o, _, err := need(ji, in.Feature)
				if err != nil {
					return err
				}
				od.inputJob = append(od.inputJob, ji)
				od.inputOut = append(od.inputOut, o)
			}
			r.ods = append(r.ods, od)
			oi = len(r.ods) - 1
			odOf[ref.View] = oi
		}
		p := r.ods[oi].plan
		fi := slices.IndexFunc(p.Outputs, func(f def.Field) bool { return f.Name == ref.Feature })
		r.outputs = append(r.outputs, output{ref: ref, column: ref.Column(), typ: p.Outputs[fi].Type, view: -1, out: fi, od: oi})
	}
	// Spill layouts.
	for _, j := range r.jobs {
		p := j.plan
		for _, k := range p.Keys {
			j.srcLayout = append(j.srcLayout, p.Input.Fields[k].Type)
		}
		j.srcLayout = append(j.srcLayout, def.Int64, def.Int64, def.Int64) // ts, created, seq
		nFeat := len(p.Features)
		j.featCol = make([]int, len(j.outs))
		for k, oi := range j.outs {
			j.featCol[k] = -1
			if oi < nFeat {
				j.featCol[k] = len(j.srcLayout)
				j.srcLayout = append(j.srcLayout, p.Outputs[oi].Type)
			}
		}
		for _, g := range p.Aggs {
			if g.Expr == nil {
				j.aggInput = append(j.aggInput, -1)
				continue
			}
			j.aggInput = append(j.aggInput, len(j.srcLayout))
			j.srcLayout = append(j.srcLayout, g.In)
		}
		j.resLayout = []def.ValueType{def.Int64}
		for _, oi := range j.outs {
			j.resLayout = append(j.resLayout, p.Outputs[oi].Type)
		}
	}
	return nil
}

// openSpine lists the spine files and checks that they hold the columns
// the backfill needs.
func (r *run) openSpine() error {
	files := r.cfg.Spines
	if len(files) == 0 {
		var err error
		if files, err = compute.SourceFiles(r.cfg.Spine); err != nil {
			return fmt.Errorf("%w: spine: %v", ErrInput, err)
		}
	}
	r.spine = files
	add := func(name string, t def.ValueType) int {
		for i, f := range r.spineFields {
			if f.Name == name {
				return i
			}
		}
		r.spineFields = append(r.spineFields, def.Field{Name: name, Type: t})
		return len(r.spineFields) - 1
	}
	r.spineTS = add(r.cfg.TimestampColumn, def.Timestamp)
	for _, s := range r.sigs {
		for i, n := range s.names {
			s.spineCols = append(s.spineCols, add(n, s.types[i]))
		}
	}
	for _, od := range r.ods {
		for _, f := range od.plan.View.RequestFields {
			od.reqCols = append(od.reqCols, add(f.Name, f.Type))
		}
	}
	var first *parquet.Schema
	for _, f := range files {
		p, err := openProjected(f, r.spineFields, map[string]bool{r.cfg.TimestampColumn: true})
		if err != nil {
			return fmt.Errorf("spine: %w", err)
		}
		if first == nil {
			first = p.File.Schema()
		} else if !parquet.EqualNodes(first, p.File.Schema()) {
			p.Close()
			return fmt.Errorf("%w: spine file %s has another schema than %s", ErrInput, f, files[0])
		}
		r.rows += p.File.NumRows()
		p.Close()
	}
	keep, err := newSpineCols(first, r.cfg.SpineColumns)
	if err != nil {
		return err
	}
	r.keep = keep
	// Feature columns must not collide with the spine columns kept.
	for _, fi := range keep.fields {
		fd := first.Fields()[fi]
		for _, o := range r.outputs {
			if fd.Name() == o.column {
				return fmt.Errorf("%w: the spine already has a column %q", ErrConfig, o.column)
			}
		}
	}
	return nil
}

// partitionCount sizes partitions so that one partition's rows, sorted in
// memory by each worker at once, stay within the memory the broadcast
// views leave.
func (r *run) partitionCount() int {
	var bytes int64
	spill := false
	for _, s := range r.sigs {
		spill = spill || s.spill
	}
	if !spill {
		return 0
	}
	for _, f := range r.spine {
		if st, err := os.Stat(f); err == nil {
			bytes += st.Size()
		}
	}
	for _, j := range r.jobs {
		if j.bcast != nil {
			continue
		}
		if files, err := compute.SourceFiles(j.plan.Source.Path); err == nil {
			for _, f := range files {
				if st, err := os.Stat(f); err == nil {
					bytes += st.Size()
				}
			}
		}
	}
	// Compressed Parquet expands several times in memory; the join holds
	// a partition's spine and source rows plus sort indexes.
	perWorker := (r.cfg.MemoryLimit - r.bcastBytes) / int64(2*r.cfg.Workers)
	p := int(bytes*8/perWorker) + 1
	p = max(p, r.cfg.Workers)
	return min(p, 1024)
}

func (r *run) progress(phase string, done, total int64) {
	if r.cfg.Progress != nil {
		r.cfg.Progress(Progress{Phase: phase, Done: done, Total: total})
	}
}

// task is one row group of one file.
type task struct {
	file, rowGroup int
	rowBase        int64 // global row number of the row group's first row
	index          int   // among the tasks, in the order they are run
}

// forEachRowGroup runs fn over every row group of files with the worker
// pool; fn gets its worker's index. Row groups go in file order, or, when
// newestBy names a timestamp column, newest first (see newestFirst).
func (r *run) forEachRowGroup(ctx context.Context, phase string, files []string, fields []def.Field, timeCols map[string]bool, newestBy string, fn func(worker int, p *pqFile, t task, b *compute.Batch) error) error {
	opened := make([]*pqFile, len(files))
	defer func() {
		for _, p := range opened {
			if p != nil {
				p.Close()
			}
		}
	}()
	var tasks []task
	var base int64
	for fi, f := range files {
		p, err := openProjected(f, fields, timeCols)
		if err != nil {
			return err
		}
		opened[fi] = p
		for gi, rg := range p.File.RowGroups() {
			tasks = append(tasks, task{file: fi, rowGroup: gi, rowBase: base, index: len(tasks)})
			base += rg.NumRows()
		}
	}
	if newestBy != "" {
		newestFirst(tasks, opened, newestBy)
		for i := range tasks {
			tasks[i].index = i
		}
	}
	batches := make([]*compute.Batch, r.cfg.Workers)
	vals := make([][]parquet.Value, r.cfg.Workers)
	for w := range batches {
		batches[w] = &compute.Batch{}
	}
	var mu sync.Mutex
	var done int64
	return parallel(ctx, r.cfg.Workers, len(tasks), func(w, i int) error {
		t := tasks[i]
		var err error
		if vals[w], err = readRowGroup(opened[t.file], t.rowGroup, batches[w], vals[w]); err != nil {
			return err
		}
		if err := fn(w, opened[t.file], t, batches[w]); err != nil {
			return err
		}
		mu.Lock()
		done += int64(batches[w].Len)
		r.progress(phase, done, base)
		mu.Unlock()
		return nil
	})
}

// parallel runs fn(worker, i) for i in [0, n) on workers goroutines and
// returns the first error; after one, the remaining items are skipped. It
// stops early when ctx is done.
func parallel(ctx context.Context, workers, n int, fn func(worker, i int) error) error {
	ch := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	var failed atomic.Bool
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range ch {
				if failed.Load() {
					continue
				}
				if err := fn(w, i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
				}
			}
		}(w)
	}
	for i := 0; i < n && ctx.Err() == nil && !failed.Load(); i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// spillSet is one spill file per (worker, partition) of one stream.
type spillSet struct {
	name    string
	layout  []def.ValueType
	writers [][]*spillWriter // [worker][partition]
}

func (r *run) newSpillSet(name string, layout []def.ValueType) (*spillSet, error) {
	s := &spillSet{name: name, layout: layout, writers: make([][]*spillWriter, r.cfg.Workers)}
	// Large writes matter: on common VM disks 1 MiB writes run several
	// times faster than 64 KiB ones. All writers share a quarter of the
	// memory limit.
	writers := int64(r.cfg.Workers * r.parts * (len(r.jobs) + len(r.sigs)))
	buf := int(min(max(r.cfg.MemoryLimit/4/writers, 16<<10), 1<<20))
	for w := range s.writers {
		s.writers[w] = make([]*spillWriter, r.parts)
		for p := range s.writers[w] {
			sw, err := newSpillWriter(s.path(r.tmp, w, p), layout, buf)
			if err != nil {
				s.close()
				return nil, err
			}
			s.writers[w][p] = sw
		}
	}
	return s, nil
}

func (s *spillSet) path(dir string, w, p int) string {
	return filepath.Join(dir, fmt.Sprintf("%s-w%d-p%d", s.name, w, p))
}

func (s *spillSet) close() error {
	var first error
	for _, ws := range s.writers {
		for _, w := range ws {
			if w != nil {
				if err := w.close(); err != nil && first == nil {
					first = err
				}
			}
		}
	}
	return first
}

// keyHash hashes the key columns of a row; ok is false when a key is null.
func keyHash(cols []*compute.Column, idx []int, row int) (uint64, bool) {
	h := uint64(14695981039346656037)
	for _, i := range idx {
		c := cols[i]
		if c.Null(row) {
			return 0, false
		}
		switch c.Type {
		case def.Int64:
			x := uint64(c.I64[row])
			x ^= x >> 33
			x *= 0xff51afd7ed558ccd
			x ^= x >> 33
			x *= 0xc4ceb9fe1a85ec53
			x ^= x >> 33
			h = (h ^ x) * 1099511628211
		case def.String:
			s := c.S[row]
			for k := 0; k < len(s); k++ {
				h = (h ^ uint64(s[k])) * 1099511628211
			}
			h = (h ^ 0xff) * 1099511628211
		}
	}
	return h, true
}

// scanSpine writes every spine row with a timestamp and keys to the spine
// spill of each spilled key signature (row number, timestamp, keys), and
// indexes the spine of each broadcast one.
func (r *run) scanSpine(ctx context.Context) error {
	sets := make([]*spillSet, len(r.sigs))
	defer func() {
		for _, s := range sets {
			if s != nil {
				s.close()
			}
		}
	}()
	for _, j := range r.jobs {
		if s := r.sigs[j.sig]; j.bcast != nil && s.builder == nil {
			s.builder = newSpineIndexBuilder(s, r.rows)
		}
	}
	for si, s := range r.sigs {
		if !s.spill {
			continue
		}
		layout := append([]def.ValueType{def.Int64, def.Int64}, s.types...)
		set, err := r.newSpillSet(fmt.Sprintf("spine%d", si), layout)
		if err != nil {
			return err
		}
		sets[si] = set
	}
	err := r.forEachRowGroup(ctx, "scan spine", r.spine, r.spineFields, map[string]bool{r.cfg.TimestampColumn: true}, "", func(w int, p *pqFile, t task, b *compute.Batch) error {
		var rowNum *compute.Column
		ts := b.Cols[r.spineTS]
		for si, s := range r.sigs {
			if s.builder != nil {
				s.builder.add(t.rowBase, b, r.spineTS)
			}
			if !s.spill {
				continue
			}
			if rowNum == nil {
				rowNum = &compute.Column{Type: def.Int64, Len: b.Len, I64: make([]int64, b.Len)}
				for i := range rowNum.I64 {
					rowNum.I64[i] = t.rowBase + int64(i)
				}
			}
			cols := make([]*compute.Column, 0, 2+len(s.spineCols))
			cols = append(cols, rowNum, ts)
			for _, c := range s.spineCols {
				cols = append(cols, b.Cols[c])
			}
			for row := 0; row < b.Len; row++ {
				if ts.Null(row) {
					continue
				}
				h, ok := keyHash(b.Cols, s.spineCols, row)
				if !ok {
					continue
				}
				if err := sets[si].writers[w][h%uint64(r.parts)].write(cols, row); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for si, s := range sets {
		if s != nil {
			if cerr := s.close(); err == nil {
				err = cerr
			}
			sets[si] = nil
		}
	}
	if err != nil {
		return err
	}
	built := false
	for _, s := range r.sigs {
		if s.builder != nil {
			s.index = s.builder.build(r.cfg.Workers)
			s.builder = nil
			built = true
		}
	}
	if built && r.bigState() {
		// The builds' scratch is garbage now; the views' state is next,
		// and larger. Hand the scratch back to the OS first, so that the
		// process holds one or the other, not both.
		debug.FreeOSMemory()
	}
	for _, j := range r.jobs {
		if j.bcast != nil {
			j.bcast = newBcastView(r.sigs[j.sig].index, j)
		}
	}
	return nil
}

// scanSources evaluates each view's filter and expressions over its source
// and writes the events to the view's source spill.
func (r *run) scanSources(ctx context.Context) error {
	for ji, j := range r.jobs {
		p := j.plan
		if j.bcast != nil {
			if err := r.probeSource(ctx, j); err != nil {
				return fmt.Errorf("view %q: %w", p.View.Name, err)
			}
			continue
		}
		set, err := r.newSpillSet(fmt.Sprintf("src%d", ji), j.srcLayout)
		if err != nil {
			return err
		}
		files, err := compute.SourceFiles(p.Source.Path)
		if err != nil {
			set.close()
			return fmt.Errorf("%w: source %q: %v", ErrInput, p.Source.Name, err)
		}
		timeCols := map[string]bool{p.Source.TimestampColumn: true}
		if p.Source.CreatedTimestampColumn != "" {
			timeCols[p.Source.CreatedTimestampColumn] = true
		}
		evs := make([]*compute.ViewEvaluator, r.cfg.Workers)
		for w := range evs {
			evs[w] = p.NewEvaluator()
		}
		err = r.forEachRowGroup(ctx, "scan "+p.View.Name, files, p.Input.Fields, timeCols, "", func(w int, pf *pqFile, t task, b *compute.Batch) error {
			ev := evs[w]
			filter := ev.Filter(b)
			cols := make([]*compute.Column, len(j.srcLayout))
			for k, ki := range p.Keys {
				cols[k] = b.Cols[ki]
			}
			nk := len(p.Keys)
			ts := b.Cols[p.Timestamp]
			cols[nk] = ts
			created := &compute.Column{Type: def.Int64, Len: b.Len, I64: make([]int64, b.Len)}
			fill := compute.NullCreated
			if p.Created < 0 {
				for i := range created.I64 {
					created.I64[i] = fill
				}
			} else {
				c := b.Cols[p.Created]
				for i := range created.I64 {
					if !c.Null(i) {
						created.I64[i] = c.I64[i]
					} else {
						created.I64[i] = compute.NullCreated
					}
				}
			}
			cols[nk+1] = created
			seq := &compute.Column{Type: def.Int64, Len: b.Len, I64: make([]int64, b.Len)}
			for i := range seq.I64 {
				seq.I64[i] = t.rowBase + int64(i)
			}
			cols[nk+2] = seq
			for k, oi := range j.outs {
				if c := j.featCol[k]; c >= 0 {
					cols[c] = ev.Feature(oi, b)
				}
			}
			for ai, c := range j.aggInput {
				if c >= 0 {
					cols[c] = ev.AggInput(ai, b)
				}
			}
			kept := 0
			for row := 0; row < b.Len; row++ {
				if ts.Null(row) || !compute.Keep(filter, row) {
					continue
				}
				h, ok := keyHash(b.Cols, p.Keys, row)
				if !ok {
					continue
				}
				if err := set.writers[w][h%uint64(r.parts)].write(cols, row); err != nil {
					return err
				}
				kept++
			}
			j.sourceRows.Add(int64(b.Len))
			return nil
		})
		if cerr := set.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("view %q: %w", p.View.Name, err)
		}
	}
	// The broadcast views have their values; their spine indexes and
	// ordering state go back to the OS before the output is written.
	for _, s := range r.sigs {
		if s.index != nil {
			s.index.release()
		}
	}
	if r.bigState() {
		debug.FreeOSMemory()
	}
	return nil
}

// bigState reports whether the broadcast state is a large share of the
// memory limit: then the memory that its build and its probing leave
// behind is handed back to the OS at once (a forced collection) rather
// than left for the collector to reuse in its own time, so that the peak
// stays near the state itself. With a small state, doing so would only
// cost the page faults of taking the memory back.
func (r *run) bigState() bool { return r.bcastBytes > r.cfg.MemoryLimit/4 }

// probeSource streams a broadcast view's source past its spine index.
func (r *run) probeSource(ctx context.Context, j *viewJob) error {
	p := j.plan
	files, err := compute.SourceFiles(p.Source.Path)
	if err != nil {
		return fmt.Errorf("%w: source %q: %v", ErrInput, p.Source.Name, err)
	}
	timeCols := map[string]bool{p.Source.TimestampColumn: true}
	if p.Source.CreatedTimestampColumn != "" {
		timeCols[p.Source.CreatedTimestampColumn] = true
	}
	evs := make([]*compute.ViewEvaluator, r.cfg.Workers)
	feats := make([][]*compute.Column, r.cfg.Workers)
	scratch := make([]probeScratch, r.cfg.Workers)
	for w := range evs {
		evs[w] = p.NewEvaluator()
		feats[w] = make([]*compute.Column, len(j.outs))
	}
	// Newest row groups first: an event that lands on a position its
	// best already beats costs a read, one that wins a write of its
	// values too, and in time-ordered files most events then lose.
	err = r.forEachRowGroup(ctx, "scan "+p.View.Name, files, p.Input.Fields, timeCols, p.Source.TimestampColumn, func(w int, pf *pqFile, t task, b *compute.Batch) error {
		ev := evs[w]
		filter := ev.Filter(b)
		for k, oi := range j.outs {
			feats[w][k] = ev.Feature(oi, b)
		}
		j.bcast.probe(b, filter, feats[w], t.rowBase, &scratch[w], t.index*lockStripes/2)
		j.sourceRows.Add(int64(b.Len))
		return nil
	})
	if err != nil {
		return err
	}
	j.bcast.finish(r.cfg.Workers)
	return nil
}

// loadSpill reads every worker's spill of one partition into columns.
func (r *run) loadSpill(name string, layout []def.ValueType, part int) ([]*compute.Column, error) {
	cols := make([]*compute.Column, len(layout))
	for i, t := range layout {
		cols[i] = &compute.Column{Type: t}
	}
	set := &spillSet{name: name}
	for w := 0; w < r.cfg.Workers; w++ {
		data, err := os.ReadFile(set.path(r.tmp, w, part))
		if err != nil {
			return nil, fmt.Errorf("backfill: cannot read spill file: %w", err)
		}
		if err := decodeSpill(data, layout, cols); err != nil {
			return nil, err
		}
	}
	return cols, nil
}

func compareKeys(a []*compute.Column, i int, b []*compute.Column, j int, n int) int {
	for k := 0; k < n; k++ {
		switch a[k].Type {
		case def.Int64:
			x, y := a[k].I64[i], b[k].I64[j]
			if x != y {
				if x < y {
					return -1
				}
				return 1
			}
		case def.String:
			if c := strings.Compare(a[k].S[i], b[k].S[j]); c != 0 {
				return c
			}
		}
	}
	return 0
}
