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

// TestSamplerInt64 checks the unrolled 8-byte hash against xxhash.Sum64
// and Sampler.Int64 against Sample of the big-endian key, at several
// rates, over edge and random keys.
func TestSamplerInt64(t *testing.T) {
	vals := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1001, 0x0102030405060708}
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < 20000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		vals = append(vals, int64(x), int64(i))
	}
	var key [8]byte
	for _, rate := range []float64{0, 1e-30, 0.01, 0.5, 0.999, 1, math.NaN()} {
		s := NewSampler(rate)
		for _, v := range vals {
			binary.BigEndian.PutUint64(key[:], uint64(v))
			if got, want := hash8(binary.LittleEndian.Uint64(key[:])), xxhash.Sum64(key[:]); got != want {
				t.Fatalf("hash8 of %d = %#x, xxhash %#x", v, got, want)
			}
			if got, want := s.Int64(v), Sample(key[:], rate); got != want {
				t.Fatalf("rate %v key %d: Int64 %v, Sample %v", rate, v, got, want)
			}
			if got, want := s.Key(key[:]), Sample(key[:], rate); got != want {
				t.Fatalf("rate %v key %d: Key %v, Sample %v", rate, v, got, want)
			}
		}
	}
	if !NewSampler(1).All() || NewSampler(0.5).All() || !NewSampler(0).None() || !NewSampler(math.NaN()).None() || NewSampler(0.01).None() {
		t.Fatal("All/None wrong")
	}
}

func BenchmarkSampler(b *testing.B) {
	s := NewSampler(0.01)
	b.Run("Int64", func(b *testing.B) {
		n := 0
		for i := 0; b.Loop(); i++ {
			if s.Int64(int64(i)) {
				n++
			}
		}
	})
	b.Run("Key", func(b *testing.B) {
		var key [8]byte
		n := 0
		for i := 0; b.Loop(); i++ {
			binary.BigEndian.PutUint64(key[:], uint64(i))
			if s.Key(key[:]) {
				n++
			}
		}
	})
}
