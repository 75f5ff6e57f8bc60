package serve

import (
	"fmt"
	"math"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/skewcheck/featurelog"
)

// TestSampleRow: sampleRow's shortcuts (one INT64 key hashed from its
// value, rate 1, rate 0) decide exactly as featurelog.Sample does on
// appendSampleKey's key, the documented contract, for INT64 and STRING
// keys, nulls, one key and two.
func TestSampleRow(t *testing.T) {
	const n = 5000
	ints := &compute.Column{}
	ints.ResetBitmap(def.Int64, n, false)
	strs := &compute.Column{}
	strs.ResetBitmap(def.String, n, false)
	for i := 0; i < n; i++ {
		ints.I64[i] = int64(i)*7919 - n
		strs.S[i] = fmt.Sprint("driver-", i)
		if i%17 == 0 {
			ints.Valid.Clear(i)
		}
		if i%13 == 0 {
			strs.Valid.Clear(i)
		}
	}
	for _, rate := range []float64{0, 0.01, 0.3, 1, math.NaN()} {
		smp := featurelog.NewSampler(rate)
		for _, keys := range [][]*compute.Column{{ints}, {strs}, {ints, strs}} {
			var buf, want []byte
			kept := 0
			for i := 0; i < n; i++ {
				want = appendSampleKey(want[:0], keys, i)
				got := sampleRow(smp, keys, i, &buf)
				if got != featurelog.Sample(want, rate) {
					t.Fatalf("rate %v, %d keys, row %d: sampleRow %v, Sample %v", rate, len(keys), i, got, !got)
				}
				if got {
					kept++
				}
			}
			if rate == 0.3 && (kept < n/5 || kept > 2*n/5) {
				t.Errorf("rate 0.3, %d keys: kept %d of %d", len(keys), kept, n)
			}
		}
	}
}
