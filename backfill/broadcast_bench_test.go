package backfill

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// BenchmarkBroadcastProbe times the broadcast join's probe and finish over
// the shape of `fstore bench backfill` at scale 1: 1M spine rows over
// 101k keys, 5M events of 8 DOUBLE features (50 per key, an hour apart) in
// four time-ordered files of 128Ki-row batches, probed newest batch first,
// as the run does. Each batch is copied into the worker's memory first,
// standing in for its decoding; indexing and output are not in it.
//
//	go test ./backfill -run '^$' -bench BroadcastProbe -count 8 | benchstat -
func BenchmarkBroadcastProbe(b *testing.B) {
	const (
		entities  = 100_000
		perEntity = 50
		spineRows = 1_000_000
		files     = 4
		batchRows = 128 << 10
		hour      = int64(3_600_000_000)
		features  = 8
	)
	r := rand.New(rand.NewPCG(1, 2))
	// The spine, indexed.
	sb := &compute.Batch{Len: spineRows, Cols: []*compute.Column{
		{Type: def.Int64, Len: spineRows, I64: make([]int64, spineRows)},
		{Type: def.Timestamp, Len: spineRows, I64: make([]int64, spineRows)},
	}}
	for i := 0; i < spineRows; i++ {
		sb.Cols[0].I64[i] = r.Int64N(entities + entities/100)
		sb.Cols[1].I64[i] = -hour + r.Int64N((perEntity+2)*hour)
	}
	sig := &keySig{types: []def.ValueType{def.Int64}, spineCols: []int{0}}
	bld := newSpineIndexBuilder(sig, spineRows)
	bld.add(0, sb, 1)
	ix := bld.build(2)
	// The events, in batches as the files hold them; then newest first.
	var batches []probeBatch
	var seq int64
	for f := 0; f < files; f++ {
		var cur *compute.Batch
		flush := func() {
			if cur != nil && cur.Len > 0 {
				for _, c := range cur.Cols {
					c.Len = cur.Len
				}
				batches = append(batches, probeBatch{b: cur, seq: seq, maxTS: cur.Cols[1].I64[cur.Len-1]})
				seq += int64(cur.Len)
			}
			cur = nil
		}
		for j := f; j < perEntity; j += files {
			for e := 0; e < entities; e++ {
				if cur == nil {
					cur = &compute.Batch{}
					cur.Cols = append(cur.Cols, &compute.Column{Type: def.Int64, I64: make([]int64, batchRows)})
					cur.Cols = append(cur.Cols, &compute.Column{Type: def.Timestamp, I64: make([]int64, batchRows)})
					for k := 0; k < features; k++ {
						cur.Cols = append(cur.Cols, &compute.Column{Type: def.Double, F64: make([]float64, batchRows)})
					}
				}
				i := cur.Len
				cur.Cols[0].I64[i] = int64(e)
				cur.Cols[1].I64[i] = int64(j)*hour + int64(e%3600)*1_000_000 + int64(e/3600)
				for k := 0; k < features; k++ {
					cur.Cols[2+k].F64[i] = r.Float64()
				}
				if cur.Len++; cur.Len == batchRows {
					flush()
				}
			}
		}
		flush()
	}
	slices.SortStableFunc(batches, func(a, b probeBatch) int { return cmp.Compare(b.maxTS, a.maxTS) })
	outs := make([]int, features)
	plan := &compute.ViewPlan{Keys: []int{0}, Timestamp: 1, Created: -1}
	for k := range outs {
		outs[k] = k
		plan.Outputs = append(plan.Outputs, def.Field{Name: "f", Type: def.Double})
	}
	job := &viewJob{plan: plan, outs: outs}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchProbe(b, ix, job, batches, workers)
		})
	}
}

func benchProbe(b *testing.B, ix *spineIndex, job *viewJob, batches []probeBatch, workers int) {
	var events int64
	for _, bt := range batches {
		events += int64(bt.b.Len)
	}
	bufs := make([]*compute.Batch, workers)
	for w := range bufs {
		bufs[w] = &compute.Batch{}
		for range batches[0].b.Cols {
			bufs[w].Cols = append(bufs[w].Cols, &compute.Column{})
		}
	}
	b.ReportAllocs()
	b.SetBytes(events * int64(len(batches[0].b.Cols)) * 8)
	for b.Loop() {
		v := newBcastView(ix, job)
		scratch := make([]probeScratch, workers)
		if err := parallel(b.Context(), workers, len(batches), func(w, i int) error {
			// A decoded batch has just been written: copy it, so that
			// the probe finds it in the cache as far as it would.
			bt := batches[i]
			own := bufs[w]
			own.Len = bt.b.Len
			for k, c := range bt.b.Cols {
				oc := own.Cols[k]
				oc.Type, oc.Len = c.Type, c.Len
				oc.I64 = append(oc.I64[:0], c.I64...)
				oc.F64 = append(oc.F64[:0], c.F64...)
			}
			v.probe(own, nil, own.Cols[2:], bt.seq, &scratch[w], i*lockStripes/2)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		v.finish(workers)
		v.release()
	}
	b.ReportMetric(float64(b.N)*float64(events)/b.Elapsed().Seconds(), "events/s")
}

// probeBatch is one batch of events and the file-order number of its
// first row.
type probeBatch struct {
	b     *compute.Batch
	seq   int64
	maxTS int64
}
