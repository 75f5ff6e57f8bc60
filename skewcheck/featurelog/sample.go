package featurelog

import (
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Sample reports whether the entity whose encoded key is key is logged at
// the given rate. The decision is xxhash64(key) < rate·2^64 (XXH64, seed
// 0, of exactly the caller's key bytes), so it is the same on every
// replica, across restarts and for every request of the entity: whole
// entities are kept. A rate <= 0 (or NaN) keeps nothing, a rate >= 1
// keeps everything. Callers encode keys the same way everywhere (serve
// uses the online store's key encoding). On a hot path, compute the
// threshold once with NewSampler.
func Sample(key []byte, rate float64) bool { return NewSampler(rate).Key(key) }

// Sampler is Sample's decision at one rate, its threshold computed once
// (a service's plan holds one). The zero Sampler keeps nothing.
type Sampler struct {
	// thr is rate·2^64: a key is kept when its hash is below it.
	thr uint64
	all bool
}

// NewSampler returns the sampler of rate, deciding exactly as Sample
// does: nothing for a rate <= 0 or NaN, everything for a rate >= 1.
func NewSampler(rate float64) Sampler {
	switch {
	case !(rate > 0):
		return Sampler{}
	case rate >= 1:
		return Sampler{all: true}
	}
	// rate·2^64 is below 2^64 here, so the conversion is exact enough
	// and never overflows.
	return Sampler{thr: uint64(rate * (1 << 64))}
}

// All reports whether every key is kept (rate >= 1): callers may skip
// building keys.
func (s Sampler) All() bool { return s.all }

// None reports whether no key is kept (a rate too small to keep any
// hash, 0 or NaN).
func (s Sampler) None() bool { return !s.all && s.thr == 0 }

// Key reports whether the entity whose encoded key is key is kept.
func (s Sampler) Key(key []byte) bool {
	if s.all {
		return true
	}
	return s.thr != 0 && xxhash.Sum64(key) < s.thr
}

// Int64 reports whether the entity whose key is the single INT64 v is
// kept: the same decision as Key of v's 8 big-endian bytes (how serve
// encodes a non-null INT64 key part), without building them.
func (s Sampler) Int64(v int64) bool {
	if s.all {
		return true
	}
	return s.thr != 0 && hash8(bits.ReverseBytes64(uint64(v))) < s.thr
}

// XXH64's primes.
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

// hash8 is XXH64 (seed 0) of an 8-byte input whose little-endian value
// is u, unrolled: xxhash.Sum64 of the same bytes, checked by the tests.
func hash8(u uint64) uint64 {
	k := u * prime2
	k = bits.RotateLeft64(k, 31) * prime1
	h := (prime5 + 8) ^ k
	h = bits.RotateLeft64(h, 27)*prime1 + prime4
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}
