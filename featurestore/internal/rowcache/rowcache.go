// Package rowcache is the online stores' cache of recently read values, by
// key, in front of the store: a read that hits costs a hash lookup instead
// of a seek through Pebble's memtable and sstable levels, or a round trip
// to Redis. It is RocksDB's row_cache, and Redis's client-side cache.
//
// # Coherence
//
// The cache does not know where writes come from; its user must call
// Invalidate for every key written after the write is applied (the
// embedded store on commit; the Redis store on commit and on Redis's
// invalidation messages), or Flush when it can no longer know. A reader
// that missed calls Put with the generation Get returned, and the value is
// cached only if the key's shard saw no invalidation since: a value read
// before a concurrent write can never be cached after the write's
// invalidation. Absent keys are cached too (as an empty value), so unknown
// entities cost nothing either.
//
// # Memory
//
// The budget is split across shards; a shard over its share evicts entries
// at random (Go map iteration order) until it is at 7/8 of it. Entries are
// charged their key and value bytes plus a fixed overhead.
package rowcache

import (
	"hash/maphash"
	"sync"
)

// Cache is a row cache. It is safe for concurrent use.
type Cache struct {
	seed   maphash.Seed
	budget int64 // per shard
	shards [cacheShards]cacheShard
}

const (
	cacheShards   = 64
	entryOverhead = 64
)

type cacheShard struct {
	mu   sync.RWMutex
	m    map[string][]byte
	size int64
	gen  uint64 // bumped by every invalidation
	_    [40]byte
}

// New returns a cache of about size bytes.
func New(size int64) *Cache {
	c := &Cache{seed: maphash.MakeSeed(), budget: size / cacheShards}
	for i := range c.shards {
		c.shards[i].m = map[string][]byte{}
	}
	return c
}

func (c *Cache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// Get returns the cached value of key (empty: known absent), whether it
// was cached, and the shard generation to pass to Put after a miss.
func (c *Cache) Get(key []byte) (frame []byte, ok bool, gen uint64) {
	s := c.shard(key)
	s.mu.RLock()
	frame, ok = s.m[string(key)]
	gen = s.gen
	s.mu.RUnlock()
	return frame, ok, gen
}

// Put caches a copy of frame (nil: absent) under key, unless key's shard
// saw an invalidation since gen.
func (c *Cache) Put(key, frame []byte, gen uint64) {
	s := c.shard(key)
	cost := int64(len(key)+len(frame)) + entryOverhead
	if cost > c.budget {
		return
	}
	v := make([]byte, len(frame))
	copy(v, frame)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if old, had := s.m[string(key)]; had {
		s.size -= int64(len(key)+len(old)) + entryOverhead
	}
	s.m[string(key)] = v
	s.size += cost
	if s.size > c.budget {
		for k, old := range s.m {
			delete(s.m, k)
			s.size -= int64(len(k)+len(old)) + entryOverhead
			if s.size <= c.budget/8*7 {
				break
			}
		}
	}
}

// Invalidate drops key and makes reads that started before it not cache
// what they read.
func (c *Cache) Invalidate(key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if old, had := s.m[string(key)]; had {
		delete(s.m, string(key))
		s.size -= int64(len(key)+len(old)) + entryOverhead
	}
	s.gen++
	s.mu.Unlock()
}

// Flush drops every entry and makes every read that started before it not
// cache what it read: what Invalidate does for each key, for when the
// keys written are not known.
func (c *Cache) Flush() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.size = 0
		s.gen++
		s.mu.Unlock()
	}
}

// Len returns the number of cached entries (present and absent).
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
