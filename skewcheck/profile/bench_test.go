package profile

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// BenchmarkPrepare measures a worker's share of profiling one backfill
// chunk (128Ki rows) per column type; BenchmarkMerge the in-order share.
//
//	go test -run XXX -bench 'Prepare|Merge' -count 6 ./skewcheck/profile | tee new.txt
//	benchstat old.txt new.txt
func BenchmarkPrepare(b *testing.B) {
	for _, typ := range []def.ValueType{def.Double, def.Int64, def.String, def.Bool} {
		for _, card := range []int{100, 1 << 20} {
			if typ == def.Bool && card > 100 {
				continue
			}
			b.Run(fmt.Sprintf("type=%s/card=%d", typ, card), func(b *testing.B) {
				const n = 128 << 10
				col := benchColumn(typ, n, card)
				p := New([]def.Field{{Name: "x", Type: typ}})
				var c Chunk
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					p.Prepare(&c, []*compute.Column{col}, n)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	for _, typ := range []def.ValueType{def.Double, def.String} {
		for _, card := range []int{100, 1 << 20} {
			b.Run(fmt.Sprintf("type=%s/card=%d", typ, card), func(b *testing.B) {
				const n = 128 << 10
				col := benchColumn(typ, n, card)
				p := New([]def.Field{{Name: "x", Type: typ}})
				var c Chunk
				p.Prepare(&c, []*compute.Column{col}, n)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					p.Merge(&c, []*compute.Column{col}, n)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

func benchColumn(typ def.ValueType, n, card int) *compute.Column {
	r := rand.New(rand.NewPCG(1, 1))
	c := &compute.Column{}
	c.ResetBitmap(typ, n, false)
	for i := range n {
		switch typ {
		case def.Double:
			c.F64[i] = r.NormFloat64() * float64(card)
		case def.Int64:
			c.I64[i] = int64(r.IntN(card))
		case def.String:
			c.S[i] = fmt.Sprintf("value-%d", r.IntN(card))
		case def.Bool:
			c.B[i] = r.IntN(2) == 0
		}
		if r.IntN(50) == 0 {
			c.Valid.Clear(i)
		}
	}
	return c
}
