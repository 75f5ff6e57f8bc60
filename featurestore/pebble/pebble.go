// Package pebble is the embedded online store: fstore's online state in the
// data directory's Pebble database, beside the registry. It implements
// featurestore.OnlineStore.
//
// Stored values carry a one-byte frame so that keys can expire: 0 followed
// by the value (no expiry), or 1, the expiry time (microseconds since the
// epoch, big-endian uint64), then the value. Expired keys read as absent;
// Sweep deletes them. Pebble has no native expiry, and a compaction filter
// is not part of its public API, so expiry is checked on read.
//
// Pebble is in-process and single-writer per directory (the data directory
// is locked), so Update's read-modify-write is made atomic per key with
// striped locks: two Updates touching the same key serialise; every write is
// one Pebble batch.
package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/fstore/fstore/featurestore/internal/rowcache"
)

// Options configures a Store.
type Options struct {
	// Now is the clock that decides expiry. Default time.Now.
	Now func() time.Time
	// Sync makes every write durable before it returns (an fsync per
	// batch). Default false: writes reach the write-ahead log in order, so
	// a crash loses at most the latest writes, never reorders them; a
	// writer that needs a durability point calls Flush.
	Sync bool
	// RowCacheSize is the memory, in bytes, of the cache of recently read
	// values in front of Pebble (featurestore/internal/rowcache). 0: no
	// cache. It stays coherent because every write to an online key goes
	// through this Store (the data directory is locked to one process, and
	// the featurestore opens one Store per database), which invalidates
	// the written keys once Pebble applied them.
	RowCacheSize int64
}

// Store is an online store over a Pebble database.
type Store struct {
	db    *pdb.DB
	now   func() time.Time
	wo    *pdb.WriteOptions
	seed  maphash.Seed
	locks [256]sync.Mutex
	cache *rowcache.Cache // nil: none
}

// New returns a store over db. The store does not own db: Close leaves it
// open.
func New(db *pdb.DB, o *Options) *Store {
	s := &Store{db: db, now: time.Now, wo: pdb.NoSync, seed: maphash.MakeSeed()}
	if o != nil {
		if o.Now != nil {
			s.now = o.Now
		}
		if o.Sync {
			s.wo = pdb.Sync
		}
		if o.RowCacheSize > 0 {
			s.cache = rowcache.New(o.RowCacheSize)
		}
	}
	return s
}

// frame header bytes.
const (
	frameForever byte = 0
	frameExpires byte = 1
)

// unframe returns the value inside a stored frame and whether it is live
// at now (microseconds).
func unframe(b []byte, now int64) ([]byte, bool, error) {
	if len(b) == 0 {
		return nil, false, errors.New("pebble store: empty stored value")
	}
	switch b[0] {
	case frameForever:
		return b[1:], true, nil
	case frameExpires:
		if len(b) < 9 {
			return nil, false, errors.New("pebble store: truncated expiry frame")
		}
		return b[9:], int64(binary.BigEndian.Uint64(b[1:9])) > now, nil
	}
	return nil, false, fmt.Errorf("pebble store: unknown value frame %d", b[0])
}

func appendFrame(dst []byte, v []byte, expireAt int64) []byte {
	if expireAt == 0 {
		dst = append(dst, frameForever)
	} else {
		dst = append(dst, frameExpires)
		dst = binary.BigEndian.AppendUint64(dst, uint64(expireAt))
	}
	return append(dst, v...)
}

func (s *Store) expireAt(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return s.now().Add(ttl).UnixMicro()
}

// Get implements featurestore.OnlineStore. A batch of more than a few
// keys is read with one iterator, seeking to each key in ascending order:
// one read state for the whole batch, and neighbouring keys found in
// blocks already positioned.
func (s *Store) Get(ctx context.Context, keys [][]byte, fn func(i int, value []byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now().UnixMicro()
	if s.cache != nil {
		return s.getCached(ctx, keys, now, fn)
	}
	if len(keys) > 4 {
		return s.getSorted(ctx, keys, now, fn, nil)
	}
	for i, k := range keys {
		v, closer, err := s.db.Get(k)
		if errors.Is(err, pdb.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pebble store: get: %w", err)
		}
		val, live, err := unframe(v, now)
		if err == nil && live {
			fn(i, val)
		}
		closer.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// getCached serves keys from the row cache and reads the misses from
// Pebble, caching what it finds (and what it does not).
func (s *Store) getCached(ctx context.Context, keys [][]byte, now int64, fn func(i int, value []byte)) error {
	ms := missPool.Get().(*missScratch)
	defer missPool.Put(ms)
	ms.idx, ms.gens, ms.found = ms.idx[:0], ms.gens[:0], ms.found[:0]
	for i, k := range keys {
		frame, ok, gen := s.cache.Get(k)
		if !ok {
			ms.idx = append(ms.idx, int32(i))
			ms.gens = append(ms.gens, gen)
			ms.found = append(ms.found, false)
			continue
		}
		if len(frame) == 0 {
			continue // cached as absent
		}
		val, live, err := unframe(frame, now)
		if err != nil {
			return err
		}
		if live {
			fn(i, val)
		}
	}
	if len(ms.idx) == 0 {
		return nil
	}
	err := s.getSorted(ctx, keys, now, fn, ms)
	if err != nil {
		return err
	}
	for m, i := range ms.idx {
		if !ms.found[m] {
			s.cache.Put(keys[i], nil, ms.gens[m])
		}
	}
	return nil
}

// missScratch lists the keys a cached Get did not find in the cache:
// their indexes, the cache generations seen, and whether Pebble had them.
type missScratch struct {
	idx   []int32
	gens  []uint64
	found []bool
}

var missPool = sync.Pool{New: func() any { return new(missScratch) }}

// getScratch is the per-call state of getSorted, pooled.
type getScratch struct {
	order []int32
	keys  [][]byte
}

var getPool = sync.Pool{New: func() any { return new(getScratch) }}

// getSorted reads keys (only those listed by ms, when not nil) with one
// iterator, in key order; with ms it caches every value it finds.
func (s *Store) getSorted(ctx context.Context, keys [][]byte, now int64, fn func(i int, value []byte), ms *missScratch) error {
	sc := getPool.Get().(*getScratch)
	defer getPool.Put(sc)
	sc.order = sc.order[:0]
	if ms != nil {
		// order holds positions in ms.idx; keys are compared through it.
		for m := range ms.idx {
			sc.order = append(sc.order, int32(m))
		}
		sc.keys = sc.keys[:0]
		for _, i := range ms.idx {
			sc.keys = append(sc.keys, keys[i])
		}
		slices.SortFunc(sc.order, sc.compare)
	} else {
		for i := range keys {
			sc.order = append(sc.order, int32(i))
		}
		sc.keys = keys
		slices.SortFunc(sc.order, sc.compare)
	}
	sc.keys = sc.keys[:0]
	if ms == nil {
		sc.keys = nil
	}
	it, err := s.db.NewIterWithContext(ctx, nil)
	if err != nil {
		return fmt.Errorf("pebble store: get: %w", err)
	}
	for _, o := range sc.order {
		i := o
		if ms != nil {
			i = ms.idx[o]
		}
		k := keys[i]
		if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
			continue
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("pebble store: get: %w", err)
		}
		if ms != nil {
			ms.found[o] = true
			s.cache.Put(k, raw, ms.gens[o])
		}
		val, live, err := unframe(raw, now)
		if err != nil {
			it.Close()
			return err
		}
		if live {
			fn(int(i), val)
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebble store: get: %w", err)
	}
	return nil
}

func (sc *getScratch) compare(a, b int32) int { return bytes.Compare(sc.keys[a], sc.keys[b]) }

// Put implements featurestore.OnlineStore.
func (s *Store) Put(ctx context.Context, keys, values [][]byte, ttl time.Duration) error {
	if len(keys) != len(values) {
		return fmt.Errorf("pebble store: %d keys but %d values", len(keys), len(values))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	exp := s.expireAt(ttl)
	b := s.db.NewBatch()
	defer b.Close()
	var buf []byte
	for i, k := range keys {
		buf = appendFrame(buf[:0], values[i], exp)
		if err := b.Set(k, buf, nil); err != nil {
			return fmt.Errorf("pebble store: put: %w", err)
		}
	}
	return s.commit(b, keys)
}

// commit applies b, which writes (some of) keys, and drops keys from the
// row cache.
func (s *Store) commit(b *pdb.Batch, keys [][]byte) error {
	err := b.Commit(s.wo)
	if s.cache != nil {
		// After the commit: a reader that misses from now on reads the
		// new values, and one that read before cannot cache what it read.
		// Also after a failed commit, which may have applied part.
		for _, k := range keys {
			s.cache.Invalidate(k)
		}
	}
	if err != nil {
		return fmt.Errorf("pebble store: commit: %w", err)
	}
	return nil
}

// Update implements featurestore.OnlineStore. Keys are locked (by stripe,
// in ascending stripe order, so concurrent Updates cannot deadlock) for the
// whole read-modify-write, so fn is called exactly once per key.
func (s *Store) Update(ctx context.Context, keys [][]byte, ttl time.Duration, fn func(i int, old []byte) ([]byte, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stripes := make([]uint8, 0, len(keys))
	for _, k := range keys {
		stripes = append(stripes, uint8(maphash.Bytes(s.seed, k)))
	}
	held := slices.Clone(stripes)
	slices.Sort(held)
	held = slices.Compact(held)
	for _, st := range held {
		s.locks[st].Lock()
	}
	defer func() {
		for _, st := range held {
			s.locks[st].Unlock()
		}
	}()
	now := s.now().UnixMicro()
	exp := s.expireAt(ttl)
	b := s.db.NewBatch()
	defer b.Close()
	var buf []byte
	for i, k := range keys {
		v, closer, err := s.db.Get(k)
		var old []byte
		switch {
		case errors.Is(err, pdb.ErrNotFound):
		case err != nil:
			return fmt.Errorf("pebble store: get: %w", err)
		default:
			val, live, ferr := unframe(v, now)
			if ferr != nil {
				closer.Close()
				return ferr
			}
			if live {
				old = val
			}
		}
		nv, ferr := fn(i, old)
		if closer != nil {
			closer.Close()
		}
		if ferr != nil {
			return ferr
		}
		if nv == nil {
			continue
		}
		buf = appendFrame(buf[:0], nv, exp)
		if err := b.Set(k, buf, nil); err != nil {
			return fmt.Errorf("pebble store: update: %w", err)
		}
	}
	if b.Empty() {
		return nil
	}
	return s.commit(b, keys)
}

// Delete implements featurestore.OnlineStore.
func (s *Store) Delete(ctx context.Context, keys [][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range keys {
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("pebble store: delete: %w", err)
		}
	}
	return s.commit(b, keys)
}

// Scan implements featurestore.OnlineStore; keys come in ascending order.
func (s *Store) Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error {
	return s.scan(ctx, prefix, func(key, value []byte, live bool) error {
		if !live {
			return nil
		}
		return fn(key, value)
	})
}

func (s *Store) scan(ctx context.Context, prefix []byte, fn func(key, value []byte, live bool) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("pebble store: scan: %w", err)
	}
	now := s.now().UnixMicro()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				it.Close()
				return err
			}
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("pebble store: scan: %w", err)
		}
		val, live, err := unframe(raw, now)
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key(), val, live); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebble store: scan: %w", err)
	}
	return nil
}

// Sweep deletes the expired keys starting with prefix and returns how many
// it deleted.
func (s *Store) Sweep(ctx context.Context, prefix []byte) (int, error) {
	var dead [][]byte
	err := s.scan(ctx, prefix, func(key, _ []byte, live bool) error {
		if !live {
			dead = append(dead, slices.Clone(key))
		}
		return nil
	})
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	return len(dead), s.Delete(ctx, dead)
}

// Flush makes every write so far durable.
func (s *Store) Flush() error {
	if err := s.db.LogData(nil, pdb.Sync); err != nil {
		return fmt.Errorf("pebble store: sync: %w", err)
	}
	return nil
}

// Close implements featurestore.OnlineStore. The database stays open.
func (s *Store) Close() error { return nil }

// prefixEnd returns the smallest key greater than every key with prefix,
// or nil when there is none (a prefix of 0xff bytes).
func prefixEnd(prefix []byte) []byte {
	end := slices.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
