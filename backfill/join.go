package backfill

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// join merge-joins every (view, partition) in parallel and writes its
// results, sorted by spine row number, to a result spill.
func (r *run) join(ctx context.Context) error {
	type jt struct{ job, part int }
	var tasks []jt
	for ji, j := range r.jobs {
		if j.bcast != nil {
			continue
		}
		for p := 0; p < r.parts; p++ {
			tasks = append(tasks, jt{ji, p})
		}
	}
	var done atomic.Int64
	return parallel(ctx, r.cfg.Workers, len(tasks), func(_, i int) error {
		t := tasks[i]
		if err := r.joinPartition(t.job, t.part); err != nil {
			return err
		}
		r.progress("join", done.Add(1), int64(len(tasks)))
		return nil
	})
}

// gather returns the rows of c in the order of idx.
func gather(c *compute.Column, idx []int32) *compute.Column {
	out := &compute.Column{}
	out.Gather(c, idx)
	return out
}

func sortedIndex(n int, less func(a, b int32) int) []int32 {
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, less)
	return idx
}

func (r *run) joinPartition(ji, part int) error {
	j := r.jobs[ji]
	p := j.plan
	sig := r.sigs[j.sig]
	nk := len(sig.names)

	spine, err := r.loadSpill(fmt.Sprintf("spine%d", j.sig), append([]def.ValueType{def.Int64, def.Int64}, sig.types...), part)
	if err != nil {
		return err
	}
	src, err := r.loadSpill(fmt.Sprintf("src%d", ji), j.srcLayout, part)
	if err != nil {
		return err
	}
	// Spine: [row, ts, keys...] sorted by (keys, ts, row).
	sKeys := spine[2:]
	keyCmp := func(cols []*compute.Column) func(a, b int32) int {
		if nk == 1 && cols[0].Type == def.Int64 {
			// The common case, without the generic comparator's loop.
			k := cols[0].I64
			return func(a, b int32) int { return cmp.Compare(k[a], k[b]) }
		}
		return func(a, b int32) int { return compareKeys(cols, int(a), cols, int(b), nk) }
	}
	var sIdx []int32
	if nk == 1 && sKeys[0].Type == def.Int64 {
		sIdx = sortRecords(sKeys[0].I64, spine[1].I64, nil, spine[0].I64)
	} else {
		sCmp := keyCmp(sKeys)
		sIdx = sortedIndex(spine[0].Len, func(a, b int32) int {
			if c := sCmp(a, b); c != 0 {
				return c
			}
			if c := cmp.Compare(spine[1].I64[a], spine[1].I64[b]); c != 0 {
				return c
			}
			return cmp.Compare(spine[0].I64[a], spine[0].I64[b])
		})
	}
	for i := range spine {
		spine[i] = gather(spine[i], sIdx)
	}
	sKeys = spine[2:]
	// Source: [keys..., ts, created, seq, values...] sorted by
	// (keys, ts, created, seq): the last row at or before t is the
	// point-in-time row.
	eTS, eCr, eSeq := src[nk], src[nk+1], src[nk+2]
	var eIdx []int32
	if nk == 1 && src[0].Type == def.Int64 {
		eIdx = sortRecords(src[0].I64, eTS.I64, eCr.I64, eSeq.I64)
	} else {
		eCmp := keyCmp(src)
		eIdx = sortedIndex(eTS.Len, func(a, b int32) int {
			if c := eCmp(a, b); c != 0 {
				return c
			}
			if c := compute.CompareEvents(eTS.I64[a], eCr.I64[a], eTS.I64[b], eCr.I64[b]); c != 0 {
				return c
			}
			return cmp.Compare(eSeq.I64[a], eSeq.I64[b])
		})
	}
	// Keys, times and aggregation inputs are walked in order, so they are
	// gathered into sorted order; plain feature values are read only at
	// each spine row's winning event, through eIdx.
	plain := map[int]bool{}
	for _, c := range j.featCol {
		if c >= 0 {
			plain[c] = true
		}
	}
	for i := range src {
		if !plain[i] {
			src[i] = gather(src[i], eIdx)
		}
	}
	eTS, eCr = src[nk], src[nk+1]

	// Results, in spine-sorted order; written in row-number order below.
	n := spine[0].Len
	res := make([]*compute.Column, len(j.resLayout))
	res[0] = spine[0]
	for k := 1; k < len(res); k++ {
		c := &compute.Column{}
		c.ResetBitmap(j.resLayout[k], n, false)
		res[k] = c
	}
	cursors := make([]*compute.Cursor, len(p.Aggs))
	for ai, g := range p.Aggs {
		cursors[ai] = g.NewCursor()
	}
	nFeat := len(p.Features)
	accs := make([]compute.Acc, len(p.Aggs))
	var latest compute.Latest
	e := 0
	for s := 0; s < n; {
		// The spine rows of one key: [s, sEnd).
		sEnd := s + 1
		for sEnd < n && compareKeys(sKeys, sEnd, sKeys, s, nk) == 0 {
			sEnd++
		}
		for e < eTS.Len && compareKeys(src, e, sKeys, s, nk) < 0 {
			e++
		}
		eEnd := e
		for eEnd < eTS.Len && compareKeys(src, eEnd, sKeys, s, nk) == 0 {
			eEnd++
		}
		for ai := range p.Aggs {
			var vals *compute.Column
			if c := j.aggInput[ai]; c >= 0 {
				vals = src[c]
			}
			cursors[ai].Reset(eTS.I64[e:eEnd], eCr.I64[e:eEnd], vals, e)
		}
		latest.Reset(eTS.I64[e:eEnd])
		for row := s; row < sEnd; row++ {
			t := spine[1].I64[row]
			last := latest.At(t)
			live := last >= 0 && compute.Fresh(eTS.I64[e+last], t, j.ttl)
			last += e
			for ai := range p.Aggs {
				accs[ai] = cursors[ai].At(t)
			}
			for k, oi := range j.outs {
				out := res[k+1]
				if oi < nFeat {
					c := src[j.featCol[k]] // in spill order: index through eIdx
					if !live || c.Null(int(eIdx[last])) {
						out.Valid.Clear(row)
						continue
					}
					out.CopyRow(row, c, int(eIdx[last]))
					continue
				}
				ai := oi - nFeat
				p.Aggs[ai].Result(&accs[ai], out, row, out.Valid)
			}
		}
		s, e = sEnd, eEnd
	}
	// Write results in spine row-number order.
	order := sortedIndex(n, func(a, b int32) int { return cmp.Compare(spine[0].I64[a], spine[0].I64[b]) })
	set := &spillSet{name: fmt.Sprintf("res%d", ji)}
	w, err := newSpillWriter(set.path(r.tmp, 0, part), j.resLayout, 64<<10)
	if err != nil {
		return err
	}
	for _, row := range order {
		if err := w.write(res, int(row)); err != nil {
			w.close()
			return err
		}
	}
	return w.close()
}

// sortRec is a row's sort key, copied out of the columns so that sorting
// touches one contiguous array.
type sortRec struct {
	k, a, b, c int64
	i          int32
}

// sortRecords returns the row order by (k, a, b, c); b may be nil (zero).
// It is the fast path for views keyed by one INT64: a stable LSD radix sort
// on k over only the bytes in which keys differ, then a comparison sort of
// each key's run (short: a key's history) by (a, b, c).
func sortRecords(k, a, b, c []int64) []int32 {
	n := len(k)
	recs := make([]sortRec, n)
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range recs {
		recs[i] = sortRec{k: k[i], a: a[i], c: c[i], i: int32(i)}
		if b != nil {
			recs[i].b = b[i]
		}
		lo, hi = min(lo, k[i]), max(hi, k[i])
	}
	if n > 1 {
		span := uint64(hi) - uint64(lo) // keys offset by lo, as unsigned
		tmp := make([]sortRec, n)
		for shift := uint(0); shift < 64 && span>>shift != 0; shift += 8 {
			var count [257]int
			for _, r := range recs {
				count[((uint64(r.k)-uint64(lo))>>shift)&0xff+1]++
			}
			for d := 1; d < 257; d++ {
				count[d] += count[d-1]
			}
			for _, r := range recs {
				d := ((uint64(r.k) - uint64(lo)) >> shift) & 0xff
				tmp[count[d]] = r
				count[d]++
			}
			recs, tmp = tmp, recs
		}
	}
	for i := 0; i < n; {
		j := i + 1
		for j < n && recs[j].k == recs[i].k {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(recs[i:j], func(x, y sortRec) int {
				// (a, b) is (event time, created time) for sources and
				// (time, 0) for spines: the events' order, then c.
				if c := compute.CompareEvents(x.a, x.b, y.a, y.b); c != 0 {
					return c
				}
				return cmp.Compare(x.c, y.c)
			})
		}
		i = j
	}
	idx := make([]int32, n)
	for i, r := range recs {
		idx[i] = r.i
	}
	return idx
}
