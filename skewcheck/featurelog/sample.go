package featurelog

import "github.com/cespare/xxhash/v2"

// Sample reports whether the entity whose encoded key is key is logged at
// the given rate. The decision is xxhash64(key) < rate·2^64 (XXH64, seed
// 0, of exactly the caller's key bytes), so it is the same on every
// replica, across restarts and for every request of the entity: whole
// entities are kept. A rate <= 0 (or NaN) keeps nothing, a rate >= 1
// keeps everything. Callers encode keys the same way everywhere (serve
// uses the online store's key encoding).
func Sample(key []byte, rate float64) bool {
	if !(rate > 0) {
		return false
	}
	if rate >= 1 {
		return true
	}
	// rate·2^64 is below 2^64 here, so the conversion is exact enough
	// and never overflows.
	return xxhash.Sum64(key) < uint64(rate*(1<<64))
}
