package backfill

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortRecordsAgainstSortFunc checks the radix path against a plain
// comparison sort, with negative, extreme and repeated keys.
func TestSortRecordsAgainstSortFunc(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for it := 0; it < 200; it++ {
		n := r.IntN(2000)
		k, a, b, c := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		keys := []int64{math.MinInt64, math.MaxInt64, -1, 0, 1, 1 << 40}
		for i := range k {
			switch r.IntN(3) {
			case 0:
				k[i] = keys[r.IntN(len(keys))]
			case 1:
				k[i] = r.Int64N(50) - 25
			default:
				k[i] = r.Int64()
			}
			a[i], b[i], c[i] = r.Int64N(5), r.Int64N(3), int64(i)
		}
		if r.IntN(2) == 0 {
			b = nil
		}
		got := sortRecords(k, a, b, c)
		want := make([]int32, n)
		for i := range want {
			want[i] = int32(i)
		}
		bv := func(i int32) int64 {
			if b == nil {
				return 0
			}
			return b[i]
		}
		slices.SortStableFunc(want, func(x, y int32) int {
			if v := cmp.Compare(k[x], k[y]); v != 0 {
				return v
			}
			if v := cmp.Compare(a[x], a[y]); v != 0 {
				return v
			}
			if v := cmp.Compare(bv(x), bv(y)); v != 0 {
				return v
			}
			return cmp.Compare(c[x], c[y])
		})
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: radix order differs from a comparison sort", it)
		}
	}
}
