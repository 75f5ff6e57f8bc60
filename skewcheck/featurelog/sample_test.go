package featurelog

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestSample(t *testing.T) {
	var key [8]byte
	for _, rate := range []float64{0.01, 0.1, 0.5, 0.9} {
		const n = 200_000
		kept := 0
		for i := 0; i < n; i++ {
			binary.BigEndian.PutUint64(key[:], uint64(i))
			if Sample(key[:], rate) {
				kept++
			}
		}
		// Binomial: 5 standard deviations.
		if got, sd := float64(kept)/n, math.Sqrt(rate*(1-rate)/n); math.Abs(got-rate) > 5*sd {
			t.Errorf("rate %.2f kept %.4f of keys", rate, got)
		}
	}
	for i := 0; i < 1000; i++ {
		binary.BigEndian.PutUint64(key[:], uint64(i))
		if Sample(key[:], 0) || !Sample(key[:], 1) || Sample(key[:], math.NaN()) || Sample(key[:], -1) || !Sample(key[:], 2) {
			t.Fatal("rate 0 kept a key or rate 1 dropped one")
		}
		// Stable: a pure function of the key bytes, monotone in the rate.
		if Sample(key[:], 0.3) && !Sample(key[:], 0.6) {
			t.Fatal("a key kept at rate 0.3 was dropped at 0.6")
		}
	}
	// The hash is fixed (XXH64, seed 0; 0xef46db3751d8e999 is the
	// reference digest of ""): these decisions hold on every replica and
	// release. xxhash("a") = 0xd24ec4f1a98c6e5b ≈ 0.8215·2^64.
	if h := xxhash.Sum64(nil); h != 0xef46db3751d8e999 {
		t.Fatalf("xxhash of the empty key is %#x", h)
	}
	for _, c := range []struct {
		key  string
		rate float64
		want bool
	}{
		{"", 0.93, false}, {"", 0.94, true},
		{"a", 0.82, false}, {"a", 0.83, true},
	} {
		if got := Sample([]byte(c.key), c.rate); got != c.want {
			t.Errorf("Sample(%q, %v) = %v", c.key, c.rate, got)
		}
	}
}
