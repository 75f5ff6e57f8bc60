package featurestore

import (
	"context"
	"time"

	redisstore "github.com/fstore/fstore/featurestore/redis"
)

// OnlineStore is a key-value store holding fstore's online state: the keys
// and values of featurestore/encoding, one value per entity per view, and
// per-view metadata (watermarks). Every operation is batched: a call over
// many keys costs one round trip per node it touches, never one per key.
//
// Implementations: featurestore/pebble (embedded, the default, sharing the
// data directory's Pebble database with the registry) and featurestore/redis
// (a single Redis node or a Redis Cluster). The interface speaks only bytes,
// so the semantics — point-in-time values, tiles, statuses, freshness — live
// once, in this package, whatever the store.
//
// Errors: a store that cannot be reached returns an error within its
// configured timeouts, never a hang; callers see it wrapped in
// ErrStoreUnavailable. A context that ends stops the call with ctx.Err().
type OnlineStore interface {
	// Get looks keys up and calls fn(i, value) for every keys[i] that is
	// present (absent and expired keys get no call), from the calling
	// goroutine, in any order. value is valid only during the call.
	Get(ctx context.Context, keys [][]byte, fn func(i int, value []byte)) error
	// Put writes values[i] under keys[i], unconditionally, in one batch.
	// With ttl > 0 the keys expire ttl after the write; with 0 they never do.
	Put(ctx context.Context, keys, values [][]byte, ttl time.Duration) error
	// Update read-modify-writes keys, atomically per key: fn(i, old) gets
	// keys[i]'s current value (nil when absent) and returns its new value,
	// or nil to leave it unchanged. When another writer changes a key
	// between the read and the write, fn is called again for that key with
	// the newer value, so concurrent updates never lose each other's work.
	// fn may keep neither old nor the returned slice's ownership: the store
	// is done with old when fn returns and with new when Update returns.
	// An error from fn stops the update; keys whose new values were already
	// written stay written (each key is atomic, the batch is not).
	Update(ctx context.Context, keys [][]byte, ttl time.Duration, fn func(i int, old []byte) ([]byte, error)) error
	// Delete removes keys; absent keys are not an error.
	Delete(ctx context.Context, keys [][]byte) error
	// Scan calls fn(key, value) for every present key starting with
	// prefix, in no particular order, from the calling goroutine; key and
	// value are valid only during the call. A key may be reported more
	// than once (Redis SCAN guarantees at least once), never zero times if
	// it was present for the whole scan. An error from fn stops the scan
	// and is returned.
	Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error
	// Close releases the store's connections or handles. The embedded
	// store does not close the database it was given.
	Close() error
}

// StoreTimeouts bound every round trip to a networked online store: Dial
// bounds connecting (default 2s), Read and Write one round trip's socket
// reads and writes (default 1s each); zero fields take the defaults. It is
// the Redis store's own type, so the defaults live in one place.
type StoreTimeouts = redisstore.Timeouts
