package backfill

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// The broadcast join serves window-less views whose per-spine-row state
// fits in memory: the spine's keys and times are indexed once (grouped by
// key, sorted by time within a key), and the source streams past the index
// without being spilled. An event of key k at ts can only be the
// point-in-time row of the spine rows of k at or after ts; of those, it is
// the candidate of the first one (its landing position p), and events
// landing at later positions are strictly later in time. So each position
// keeps only the best event that landed on it (by event time, created time,
// file order), and afterwards each spine row takes the best event of the
// last position at or before it that has one.

// spineIndex is one key signature's spine, grouped by key and sorted by
// (time, row number) within a key. Positions number the indexed rows in
// that order; spine rows with a null key or time are not indexed.
type spineIndex struct {
	rows      int64
	positions int
	// t is the spine time at each position.
	t []int64
	// start[g] is group g's first position; start[len-1] is the number of
	// positions.
	start []int32
	// pos maps a spine row number to its position, -1 when not indexed.
	pos []int32
	// keys holds a single INT64 key's groups' keys, ascending (groups are
	// numbered in key order, so that probing a batch in key order walks
	// the state forward); strs maps any other key (encoded) to its group.
	keys []int64
	strs map[string]int32
}

// spineIndexBytes is the memory an index of rows spine rows holds once
// built (times, positions, groups' starts and keys), and buildBytes what
// its build holds besides, before any view state exists: keys, times and
// validity by row, the (key, row) sort's two buffers and the order.
func spineIndexBytes(rows int64, stringKeys bool) (index, buildBytes int64) {
	index, buildBytes = rows*(8+4+4+8), rows*(8+8+1+16+16+4)
	if stringKeys {
		index += rows * 64 // encoded key strings and map entries
		buildBytes += rows * 16
	}
	return index, buildBytes
}

// spineIndexBuilder collects the spine's keys and times by row number;
// row groups fill disjoint ranges, so workers need no lock.
type spineIndexBuilder struct {
	sig   *keySig
	ints  []int64  // single INT64 key
	strs  []string // encoded keys otherwise
	t     []int64
	valid []bool
}

func newSpineIndexBuilder(sig *keySig, rows int64) *spineIndexBuilder {
	b := &spineIndexBuilder{sig: sig, t: make([]int64, rows), valid: make([]bool, rows)}
	if sig.singleInt() {
		b.ints = make([]int64, rows)
	} else {
		b.strs = make([]string, rows)
	}
	return b
}

func (s *keySig) singleInt() bool { return len(s.types) == 1 && s.types[0] == def.Int64 }

// add records rows [base, base+b.Len) of a spine batch.
func (b *spineIndexBuilder) add(base int64, batch *compute.Batch, tsCol int) {
	ts := batch.Cols[tsCol]
	var key []byte
	for row := 0; row < batch.Len; row++ {
		i := base + int64(row)
		if ts.Null(row) {
			continue
		}
		if b.ints != nil {
			k := batch.Cols[b.sig.spineCols[0]]
			if k.Null(row) {
				continue
			}
			b.ints[i] = k.I64[row]
		} else {
			var ok bool
			if key, ok = appendKey(key[:0], batch.Cols, b.sig.spineCols, row); !ok {
				continue
			}
			b.strs[i] = string(key)
		}
		b.t[i] = ts.I64[row]
		b.valid[i] = true
	}
}

// build groups the recorded rows by key and sorts each group by time,
// on workers goroutines where the work divides.
func (b *spineIndexBuilder) build(workers int) *spineIndex {
	if b.ints != nil {
		return b.buildInts(workers)
	}
	n := len(b.t)
	ix := &spineIndex{rows: int64(n), strs: map[string]int32{}}
	gid := make([]int32, n)
	var count []int32
	for i := 0; i < n; i++ {
		if !b.valid[i] {
			gid[i] = -1
			continue
		}
		g, ok := ix.strs[b.strs[i]]
		if !ok {
			g = int32(len(count))
			ix.strs[b.strs[i]] = g
			count = append(count, 0)
		}
		count[g]++
		gid[i] = g
	}
	b.strs, b.valid = nil, nil
	G := len(count)
	ix.start = make([]int32, G+1)
	for g, c := range count {
		ix.start[g+1] = ix.start[g] + c
	}
	// Rows in row order within each group (a counting sort on the group).
	ord := make([]int32, ix.start[G])
	next := count // reused as each group's fill cursor
	copy(next, ix.start[:G])
	for i := 0; i < n; i++ {
		if g := gid[i]; g >= 0 {
			ord[next[g]] = int32(i)
			next[g]++
		}
	}
	b.finish(ix, ord, gid, workers)
	return ix
}

// buildInts is build for a single INT64 key: a radix sort of (key, row)
// numbers the groups in key order and keeps rows in row order within a
// key.
func (b *spineIndexBuilder) buildInts(workers int) *spineIndex {
	n := len(b.t)
	ix := &spineIndex{rows: int64(n)}
	recs := make([]keyRow, 0, n)
	for i, ok := range b.valid {
		if ok {
			recs = append(recs, keyRow{b.ints[i], int32(i)})
		}
	}
	b.ints, b.valid = nil, nil
	recs = radixSortKeyRowsParallel(recs, make([]keyRow, len(recs)), workers)
	ord := make([]int32, len(recs))
	for p, kr := range recs {
		ord[p] = kr.row
		if p == 0 || kr.k != recs[p-1].k {
			ix.keys = append(ix.keys, kr.k)
			ix.start = append(ix.start, int32(p))
		}
	}
	ix.start = append(ix.start, int32(len(recs)))
	recs = nil
	b.finish(ix, ord, make([]int32, n), workers)
	return ix
}

// finish lays out the times of ord (the indexed rows, grouped), sorts each
// group by time and maps rows to positions in pos (n long, reused). The
// workers take disjoint ranges of groups (and of rows, to clear pos).
func (b *spineIndexBuilder) finish(ix *spineIndex, ord, pos []int32, workers int) {
	ix.t = make([]int64, len(ord))
	ix.positions = len(ord)
	ix.pos = pos
	groups := len(ix.start) - 1
	workers = max(1, min(workers, len(ord)/(64<<10)))
	// Group boundaries that split the positions evenly.
	bounds := make([]int, workers+1)
	for w := 1; w <= workers; w++ {
		p := int32(int64(len(ord)) * int64(w) / int64(workers))
		bounds[w], _ = slices.BinarySearch(ix.start[:groups], p)
	}
	bounds[workers] = groups
	inParallel(workers, func(w int) {
		rows := pos[len(pos)*w/workers : len(pos)*(w+1)/workers]
		for i := range rows {
			rows[i] = -1
		}
	})
	inParallel(workers, func(w int) {
		g0, g1 := bounds[w], bounds[w+1]
		if g0 >= g1 {
			return
		}
		p0, p1 := ix.start[g0], ix.start[g1]
		for p := p0; p < p1; p++ {
			ix.t[p] = b.t[ord[p]]
		}
		for g := g0; g < g1; g++ {
			s, e := ix.start[g], ix.start[g+1]
			sortByTime(ix.t[s:e], ord[s:e])
		}
		for p := p0; p < p1; p++ {
			pos[ord[p]] = p
		}
	})
	b.t = nil
}

// inParallel runs fn(0) … fn(workers-1) on their own goroutines (fn(0)
// on the caller's) and waits for them.
func inParallel(workers int, fn func(w int)) {
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w)
		}()
	}
	fn(0)
	wg.Wait()
}

// sortByTime sorts t ascending, stably, moving ord along.
func sortByTime(t []int64, ord []int32) {
	if len(t) <= 24 {
		for i := 1; i < len(t); i++ {
			x, o := t[i], ord[i]
			j := i
			for j > 0 && t[j-1] > x {
				t[j], ord[j] = t[j-1], ord[j-1]
				j--
			}
			t[j], ord[j] = x, o
		}
		return
	}
	type pair struct {
		t   int64
		ord int32
	}
	ps := make([]pair, len(t))
	for i := range ps {
		ps[i] = pair{t[i], ord[i]}
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return cmp.Compare(a.t, b.t) })
	for i, p := range ps {
		t[i], ord[i] = p.t, p.ord
	}
}

// release drops what only probing needs: the output reads pos alone.
func (ix *spineIndex) release() { ix.t, ix.start, ix.keys, ix.strs = nil, nil, nil, nil }

// land returns the position an event at ts of group g lands on: the first
// of the group's spine rows at or after ts; -1 when there is none.
func (ix *spineIndex) land(g int32, ts int64) int32 {
	lo, hi := ix.start[g], ix.start[g+1]
	e := hi
	for lo < hi {
		mid := int32(uint32(lo+hi) >> 1)
		if ix.t[mid] < ts {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == e {
		return -1
	}
	return lo
}

// appendKey appends an unambiguous encoding of a row's key columns; ok is
// false when a key is null.
func appendKey(dst []byte, cols []*compute.Column, idx []int, row int) ([]byte, bool) {
	for _, i := range idx {
		c := cols[i]
		if c.Null(row) {
			return dst, false
		}
		switch c.Type {
		case def.Int64:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(c.I64[row]))
		case def.String:
			dst = binary.AppendUvarint(dst, uint64(len(c.S[row])))
			dst = append(dst, c.S[row]...)
		}
	}
	return dst, true
}

// bcastView is one view's broadcast state. Per position, the ordering
// fields of the best event that landed there (event time, sequence number
// in file order, created time when the source has one) are hstride words
// of hot, read for every event that lands; the sequence number is stored
// plus one, so that zero memory means that none has. The values of that event are vstride words of vals,
// written only when an event wins: validity-mask words (bit k set: output
// k has a value), then one word per fixed-width output (its value's bits);
// string outputs keep theirs in strs. Probing walks positions forward;
// finish fills in the positions whose value comes from an earlier one;
// the output reads them through a sorted gather (see fill).
type bcastView struct {
	ix  *spineIndex
	job *viewJob

	hot     []uint64
	hstride int
	created bool
	vals    []uint64
	vstride int
	masks   int // mask words
	strs    [][]string
	// slot[k] is output k's value word (fixed width) or strs index.
	slot  []int
	locks []sync.Mutex
	// freeHot and freeVals give hot's and vals' memory back.
	freeHot, freeVals func()
}

// release gives the state's memory back; v must not be used after.
func (v *bcastView) release() {
	if v.freeHot != nil {
		v.freeHot()
		v.freeHot, v.hot = nil, nil
	}
	if v.freeVals != nil {
		v.freeVals()
		v.freeVals, v.vals = nil, nil
	}
}

const (
	hotTS  = 0
	hotSeq = 1
	hotCr  = 2
)

// lockStripes is the most mutexes guarding records; stripe i guards a
// contiguous range of groups.
const lockStripes = 64

// bcastViewBytes is the memory one view's broadcast state holds for rows
// spine rows; strBytes estimates one string value.
func bcastViewBytes(j *viewJob, rows int64, strBytes int64) int64 {
	per := int64(8+8) + 8*int64((len(j.outs)+63)/64)
	if j.plan.Created >= 0 {
		per += 8
	}
	for _, oi := range j.outs {
		if j.plan.Outputs[oi].Type == def.String {
			per += 16 + strBytes
		} else {
			per += 8
		}
	}
	return rows * per
}

func newBcastView(ix *spineIndex, j *viewJob) *bcastView {
	m := len(ix.t)
	v := &bcastView{ix: ix, job: j, created: j.plan.Created >= 0, hstride: 2}
	if v.created {
		v.hstride = 3
	}
	v.masks = (len(j.outs) + 63) / 64
	v.vstride = v.masks
	for _, oi := range j.outs {
		if j.plan.Outputs[oi].Type == def.String {
			v.slot = append(v.slot, len(v.strs))
			v.strs = append(v.strs, make([]string, m))
		} else {
			v.slot = append(v.slot, v.vstride)
			v.vstride++
		}
	}
	// Zero memory is the starting state: no event, every value null.
	v.hot, v.freeHot = allocWords(m * v.hstride)
	v.vals, v.freeVals = allocWords(m * v.vstride)
	v.locks = make([]sync.Mutex, min(lockStripes, max(len(ix.start)-1, 1)))
	return v
}

// probeScratch is a worker's reusable memory for probing.
type probeScratch struct {
	key         []byte
	recs, tmp   []keyRow
	cands, ctmp []keyRow // (group, row)
}

// keyRow is a source row's INT64 key (or group), for sorting a batch.
type keyRow struct {
	k   int64
	row int32
}

// probe offers the rows of one source batch to the state: every row with a
// key, a time and a passing filter. feats are the batch's output columns
// (in job.outs order); seqBase numbers the batch's first row in file
// order; turn picks the stripe to start with, so that workers do not
// queue behind each other.
//
// The rows are put in group order first, so that the state is walked
// forward rather than at random, and each stripe of groups is locked once
// per batch, not once per row (a locked instruction per row would also
// keep the processor from overlapping the rows' cache misses).
func (v *bcastView) probe(b *compute.Batch, filter *compute.Column, feats []*compute.Column, seqBase int64, sc *probeScratch, turn int) {
	p := v.job.plan
	ix := v.ix
	ts := b.Cols[p.Timestamp]
	cands := slices.Grow(sc.cands[:0], b.Len)
	// Rows are offered last first when the batch's times ascend: within a
	// position, the newest event then usually comes first and the older
	// ones lose without writing their values (see newestFirst). The order
	// changes nothing else, as the sorts below are stable.
	first, step := 0, 1
	if b.Len > 0 && ts.I64[b.Len-1] >= ts.I64[0] {
		first, step = b.Len-1, -1
	}
	if ix.keys == nil {
		for i, row := 0, first; i < b.Len; i, row = i+1, row+step {
			if ts.Null(row) || !compute.Keep(filter, row) {
				continue
			}
			key, ok := appendKey(sc.key[:0], b.Cols, p.Keys, row)
			sc.key = key
			if !ok {
				continue
			}
			if g, ok := ix.strs[string(key)]; ok {
				cands = append(cands, keyRow{int64(g), int32(row)})
			}
		}
		sc.cands = cands[:0]
		sc.ctmp = slices.Grow(sc.ctmp[:0], len(cands))[:len(cands)]
		cands = radixSortKeyRows(cands, sc.ctmp)
	} else {
		// INT64 keys: sort the batch's rows by key and merge them with
		// the index's keys.
		kc := b.Cols[p.Keys[0]]
		recs := slices.Grow(sc.recs[:0], b.Len)
		for i, row := 0, first; i < b.Len; i, row = i+1, row+step {
			if ts.Null(row) || kc.Null(row) || !compute.Keep(filter, row) {
				continue
			}
			recs = append(recs, keyRow{kc.I64[row], int32(row)})
		}
		sc.recs = recs[:0]
		sc.tmp = slices.Grow(sc.tmp[:0], len(recs))[:len(recs)]
		recs = radixSortKeyRows(recs, sc.tmp)
		keys := ix.keys
		g := 0
		for _, kr := range recs {
			if g < len(keys) && keys[g] < kr.k {
				// Gallop: the next key is usually near.
				step := 1
				for g+step < len(keys) && keys[g+step] < kr.k {
					g += step
					step *= 2
				}
				lo, hi := g+1, min(g+step, len(keys))
				for lo < hi {
					mid := int(uint(lo+hi) >> 1)
					if keys[mid] < kr.k {
						lo = mid + 1
					} else {
						hi = mid
					}
				}
				g = lo
			}
			if g == len(keys) {
				break
			}
			if keys[g] == kr.k {
				cands = append(cands, keyRow{int64(g), kr.row})
			}
		}
		sc.cands = cands[:0]
	}
	if len(cands) == 0 {
		return
	}
	// Stripe s holds groups [s*G/S, (s+1)*G/S).
	nStripes := len(v.locks)
	groups := int64(len(ix.start) - 1)
	var bounds [lockStripes + 1]int
	for s, i := 1, 0; s <= nStripes; s++ {
		end := int64(s) * groups / int64(nStripes)
		for i < len(cands) && cands[i].k < end {
			i++
		}
		bounds[s] = i
	}
	var created *compute.Column
	if p.Created >= 0 {
		created = b.Cols[p.Created]
	}
	// A stripe another worker holds is left for later rather than waited
	// for: the worker goes on with the next ones, and takes the stripes
	// it left, waiting if it must, once it has been round.
	var busy [lockStripes]uint8
	nBusy := 0
	for k := 0; k < nStripes; k++ {
		s := (turn + k) % nStripes
		if bounds[s] == bounds[s+1] {
			continue
		}
		if !v.locks[s].TryLock() {
			busy[nBusy] = uint8(s)
			nBusy++
			continue
		}
		v.probeStripe(cands[bounds[s]:bounds[s+1]], ts, created, feats, seqBase)
		v.locks[s].Unlock()
	}
	for _, s := range busy[:nBusy] {
		v.locks[s].Lock()
		v.probeStripe(cands[bounds[s]:bounds[s+1]], ts, created, feats, seqBase)
		v.locks[s].Unlock()
	}
}

// probeStripe offers a stripe's candidates (group, row) to the state; the
// caller holds the stripe's lock.
func (v *bcastView) probeStripe(run []keyRow, ts, created *compute.Column, feats []*compute.Column, seqBase int64) {
	ix := v.ix
	for _, c := range run {
		row := int(c.row)
		t := ts.I64[row]
		pos := ix.land(int32(c.k), t)
		if pos < 0 {
			continue
		}
		cr := compute.NullCreated
		if created != nil && !created.Null(row) {
			cr = created.I64[row]
		}
		seq := seqBase + int64(row)
		hot := v.hot[int(pos)*v.hstride : int(pos+1)*v.hstride]
		if v.better(hot, t, cr, seq) {
			v.set(hot, pos, t, cr, seq, feats, row)
		}
	}
}

// radixSortKeyRows sorts recs by key (stable, LSD on the bytes in which
// the keys differ) using tmp (as long as recs) and returns the sorted
// slice, which is one of the two.
func radixSortKeyRows(recs, tmp []keyRow) []keyRow {
	if len(recs) < 2 {
		return recs
	}
	lo, hi := recs[0].k, recs[0].k
	for _, r := range recs {
		lo, hi = min(lo, r.k), max(hi, r.k)
	}
	span := uint64(hi) - uint64(lo)
	const bits = 11
	for shift := uint(0); shift < 64 && span>>shift != 0; shift += bits {
		var count [1<<bits + 1]int
		for _, r := range recs {
			count[((uint64(r.k)-uint64(lo))>>shift)&(1<<bits-1)+1]++
		}
		for d := 1; d < len(count); d++ {
			count[d] += count[d-1]
		}
		for _, r := range recs {
			d := ((uint64(r.k) - uint64(lo)) >> shift) & (1<<bits - 1)
			tmp[count[d]] = r
			count[d]++
		}
		recs, tmp = tmp, recs
	}
	return recs
}

// radixSortKeyRowsParallel is radixSortKeyRows on workers goroutines:
// each pass counts and scatters a contiguous share of the records per
// worker, the shares' offsets within each digit following their order,
// so that the sort stays stable.
func radixSortKeyRowsParallel(recs, tmp []keyRow, workers int) []keyRow {
	workers = max(1, min(workers, len(recs)/(64<<10)))
	if workers == 1 {
		return radixSortKeyRows(recs, tmp)
	}
	lo, hi := recs[0].k, recs[0].k
	for _, r := range recs {
		lo, hi = min(lo, r.k), max(hi, r.k)
	}
	span := uint64(hi) - uint64(lo)
	const bits = 11
	counts := make([][1 << bits]int, workers)
	share := func(w int) (int, int) { return len(recs) * w / workers, len(recs) * (w + 1) / workers }
	for shift := uint(0); shift < 64 && span>>shift != 0; shift += bits {
		src, dst := recs, tmp
		inParallel(workers, func(w int) {
			c := &counts[w]
			clear(c[:])
			a, b := share(w)
			for _, r := range src[a:b] {
				c[((uint64(r.k)-uint64(lo))>>shift)&(1<<bits-1)]++
			}
		})
		// Turn the counts into each share's first offset per digit.
		off := 0
		for d := 0; d < 1<<bits; d++ {
			for w := range counts {
				c := counts[w][d]
				counts[w][d] = off
				off += c
			}
		}
		inParallel(workers, func(w int) {
			c := &counts[w]
			a, b := share(w)
			for _, r := range src[a:b] {
				d := ((uint64(r.k) - uint64(lo)) >> shift) & (1<<bits - 1)
				dst[c[d]] = r
				c[d]++
			}
		})
		recs, tmp = tmp, recs
	}
	return recs
}

// better reports whether an event beats a position's best.
func (v *bcastView) better(hot []uint64, t, cr, seq int64) bool {
	best := int64(hot[hotSeq]) - 1
	if best < 0 {
		return true
	}
	bc := compute.NullCreated
	if v.created {
		bc = int64(hot[hotCr])
	}
	if c := compute.CompareEvents(t, cr, int64(hot[hotTS]), bc); c != 0 {
		return c > 0
	}
	return seq > best
}

func (v *bcastView) set(hot []uint64, pos int32, t, cr, seq int64, feats []*compute.Column, row int) {
	hot[hotTS], hot[hotSeq] = uint64(t), uint64(seq+1)
	if v.created {
		hot[hotCr] = uint64(cr)
	}
	r := int(pos)
	rec := v.vals[r*v.vstride : (r+1)*v.vstride]
	if v.masks == 1 && len(v.strs) == 0 {
		// The common case, without reading the record: a store to a
		// line not in the cache need not be waited for, a load does.
		var mask uint64
		for k, c := range feats {
			if c.Null(row) {
				continue
			}
			mask |= 1 << k
			s := v.slot[k]
			switch c.Type {
			case def.Int64, def.Timestamp:
				rec[s] = uint64(c.I64[row])
			case def.Double:
				rec[s] = math.Float64bits(c.F64[row])
			case def.Bool:
				rec[s] = 0
				if c.B[row] {
					rec[s] = 1
				}
			}
		}
		rec[0] = mask
		return
	}
	mask := rec[:v.masks]
	clear(mask)
	for k, c := range feats {
		if c.Null(row) {
			continue
		}
		mask[k/64] |= 1 << (k % 64)
		s := v.slot[k]
		switch c.Type {
		case def.Int64, def.Timestamp:
			rec[s] = uint64(c.I64[row])
		case def.Double:
			rec[s] = math.Float64bits(c.F64[row])
		case def.Bool:
			if c.B[row] {
				rec[s] = 1
			} else {
				rec[s] = 0
			}
		case def.String:
			v.strs[s][r] = c.S[row]
		}
	}
}

// finish resolves every indexed spine row: its event is the best of the
// last position at or before it (within its key) that one landed on, and
// its values are that event's, or null when there is none or it is older
// than the TTL. The ordering state is dropped; workers share the groups.
func (v *bcastView) finish(workers int) {
	v.locks = nil
	ix := v.ix
	groups := len(ix.start) - 1
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			v.finishGroups(lo, hi)
		}(groups*w/workers, groups*(w+1)/workers)
	}
	wg.Wait()
	v.freeHot()
	v.freeHot, v.hot = nil, nil
}

func (v *bcastView) finishGroups(lo, hi int) {
	ix := v.ix
	ttl := v.job.ttl
	for g := lo; g < hi; g++ {
		last := int32(-1)
		for pos := ix.start[g]; pos < ix.start[g+1]; pos++ {
			r := int(pos)
			if v.hot[int(pos)*v.hstride+hotSeq] != 0 {
				last = pos
			} else if last >= 0 {
				from := int(last)
				copy(v.vals[r*v.vstride:(r+1)*v.vstride], v.vals[from*v.vstride:(from+1)*v.vstride])
				for _, s := range v.strs {
					s[r] = s[from]
				}
			} else {
				continue // no event at or before: null
			}
			if ttl != 0 && !compute.Fresh(int64(v.hot[int(last)*v.hstride+hotTS]), ix.t[pos], ttl) {
				clear(v.vals[r*v.vstride : r*v.vstride+v.masks])
			}
		}
	}
}

// gatherScratch is a worker's reusable memory for fill.
type gatherScratch struct{ a, b, recs []uint64 }

// fill sets out (one column per job output, n rows, all null on entry) to
// the values of spine rows [base, base+n). The rows' positions are
// scattered over the state, so they are sorted first and the state is
// read forward into a row-major copy (one cache line or two per row), which
// is then split into the columns in order.
func (v *bcastView) fill(base int64, n int, out []*compute.Column, sc *gatherScratch) {
	// (position << 32 | row in chunk), sorted on the position.
	pairs := sc.a[:0]
	for i := 0; i < n; i++ {
		if pos := v.ix.pos[base+int64(i)]; pos >= 0 {
			pairs = append(pairs, uint64(pos)<<32|uint64(i))
		}
	}
	sc.a = pairs[:0]
	sc.b = slices.Grow(sc.b[:0], len(pairs))[:len(pairs)]
	pairs = radixSortHigh(pairs, sc.b, uint64(v.ix.positions))
	vs := v.vstride
	recs := slices.Grow(sc.recs[:0], n*vs)[:n*vs]
	sc.recs = recs
	for i := 0; i < n; i++ {
		clear(recs[i*vs : i*vs+v.masks])
	}
	var strPos []int32
	if len(v.strs) > 0 {
		strPos = make([]int32, n)
		for i := range strPos {
			strPos[i] = -1
		}
	}
	for _, pr := range pairs {
		pos, i := int(pr>>32), int(uint32(pr))
		copy(recs[i*vs:(i+1)*vs], v.vals[pos*vs:(pos+1)*vs])
		if strPos != nil {
			strPos[i] = int32(pos)
		}
	}
	for k, c := range out {
		s, word, bit := v.slot[k], k/64, uint64(1)<<(k%64)
		switch c.Type {
		case def.Int64, def.Timestamp:
			for i := 0; i < n; i++ {
				if recs[i*vs+word]&bit != 0 {
					c.I64[i] = int64(recs[i*vs+s])
					c.Valid.Set(i)
				}
			}
		case def.Double:
			for i := 0; i < n; i++ {
				if recs[i*vs+word]&bit != 0 {
					c.F64[i] = math.Float64frombits(recs[i*vs+s])
					c.Valid.Set(i)
				}
			}
		case def.Bool:
			for i := 0; i < n; i++ {
				if recs[i*vs+word]&bit != 0 {
					c.B[i] = recs[i*vs+s] == 1
					c.Valid.Set(i)
				}
			}
		case def.String:
			for i := 0; i < n; i++ {
				if recs[i*vs+word]&bit != 0 {
					c.S[i] = v.strs[s][strPos[i]]
					c.Valid.Set(i)
				}
			}
		}
	}
}

// radixSortHigh sorts xs by their high 32 bits, which are below limit,
// using tmp (as long as xs), and returns the sorted slice (one of the
// two).
func radixSortHigh(xs, tmp []uint64, limit uint64) []uint64 {
	const bits = 11
	for shift := uint(32); shift < 64 && (limit-1)>>(shift-32) != 0; shift += bits {
		var count [1<<bits + 1]int
		for _, x := range xs {
			count[(x>>shift)&(1<<bits-1)+1]++
		}
		for d := 1; d < len(count); d++ {
			count[d] += count[d-1]
		}
		for _, x := range xs {
			d := (x >> shift) & (1<<bits - 1)
			tmp[count[d]] = x
			count[d]++
		}
		xs, tmp = tmp, xs
	}
	return xs
}

// joinPlan forces a join strategy; tests use it to run both on the same
// inputs.
type joinPlan int

const (
	planAuto      joinPlan = iota // broadcast what fits, spill the rest
	planSpill                     // spill every view
	planBroadcast                 // broadcast every window-less view
)

// choosePlans picks, per view, the broadcast join or the spill path. A
// view can be broadcast when it needs no windowed aggregation; it is when
// its state, with its signature's spine index, fits (with the other
// broadcast views') in half of the memory limit, so that the source scan's
// buffers and the spill path keep the other half.
func (r *run) choosePlans() error {
	budget := r.cfg.MemoryLimit / 2
	indexed := map[int]bool{}
	// The indexes stay while the views' states are built and filled;
	// an index's build needs its own scratch before any state exists.
	var indexBytes, buildBytes, stateBytes int64
	for _, j := range r.jobs {
		sig := r.sigs[j.sig]
		ok := r.cfg.joinPlan != planSpill && r.rows < math.MaxInt32
		for _, c := range j.featCol {
			ok = ok && c >= 0
		}
		if ok && r.cfg.joinPlan != planBroadcast {
			var strBytes int64
			for _, oi := range j.outs {
				if j.plan.Outputs[oi].Type == def.String {
					b, err := sourceStringBytes(j.plan)
					if err != nil {
						return err
					}
					strBytes = b
					break
				}
			}
			ib, bb, sb := indexBytes, buildBytes, stateBytes+bcastViewBytes(j, r.rows, strBytes)
			if !indexed[j.sig] {
				i, b := spineIndexBytes(r.rows, !sig.singleInt())
				ib += i
				bb = max(bb, b)
			}
			ok = ib+max(bb, sb) <= budget
			if ok {
				indexBytes, buildBytes, stateBytes = ib, bb, sb
			}
		}
		if ok {
			indexed[j.sig] = true
			j.bcast = &bcastView{job: j}
		} else {
			sig.spill = true
		}
	}
	r.bcastBytes = indexBytes + max(buildBytes, stateBytes)
	return nil
}

// sourceStringBytes estimates the bytes of one string a view computes as
// the bytes per row of all the string columns it reads (an expression can
// concatenate them), from the source files' metadata.
func sourceStringBytes(p *compute.ViewPlan) (int64, error) {
	files, err := compute.SourceFiles(p.Source.Path)
	if err != nil {
		return 0, fmt.Errorf("%w: source %q: %v", ErrInput, p.Source.Name, err)
	}
	strCols := map[string]bool{}
	for _, f := range p.Input.Fields {
		if f.Type == def.String {
			strCols[f.Name] = true
		}
	}
	var bytes, rows int64
	for _, path := range files {
		pf, err := openProjected(path, nil, nil)
		if err != nil {
			return 0, err
		}
		for _, rg := range pf.File.Metadata().RowGroups {
			rows += rg.NumRows
			for _, c := range rg.Columns {
				if len(c.MetaData.PathInSchema) == 1 && strCols[c.MetaData.PathInSchema[0]] {
					bytes += c.MetaData.TotalUncompressedSize
				}
			}
		}
		pf.Close()
	}
	// A constant string expression reads no column; count it generously.
	return bytes/max(rows, 1) + 64, nil
}
