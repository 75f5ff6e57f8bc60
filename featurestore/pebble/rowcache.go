package pebble

import (
	"hash/maphash"
	"sync"
)

// rowCache keeps recently read values (their stored frames) in memory, by
// key, in front of Pebble: a read that hits costs a hash lookup instead of
// a seek through the memtable and every sstable level, which is most of a
// feature read's cost. It is RocksDB's row_cache for this store.
//
// Coherence: every write to an online key goes through this Store (the
// data directory is locked to one process, and the featurestore opens one
// Store per database), and commit drops the written keys from the cache
// after Pebble applied them. A reader that missed inserts what it read only
// if its shard saw no write since the reader looked, so a value read before
// a concurrent write can never be cached after it. Absent keys are cached
// too (as an empty frame), so unknown entities cost no seek either.
//
// Memory: the budget is split across shards; a shard over its share
// evicts entries at random (Go map iteration order) until it is at 7/8 of
// it. Entries are charged their key and value bytes plus a fixed overhead.
type rowCache struct {
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

func newRowCache(size int64) *rowCache {
	c := &rowCache{seed: maphash.MakeSeed(), budget: size / cacheShards}
	for i := range c.shards {
		c.shards[i].m = map[string][]byte{}
	}
	return c
}

func (c *rowCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// get returns the cached frame of key (empty: known absent), whether it
// was cached, and the shard generation to pass to put after a miss.
func (c *rowCache) get(key []byte) (frame []byte, ok bool, gen uint64) {
	s := c.shard(key)
	s.mu.RLock()
	frame, ok = s.m[string(key)]
	gen = s.gen
	s.mu.RUnlock()
	return frame, ok, gen
}

// put caches a copy of frame (nil: absent) under key, unless key's shard
// was written since gen.
func (c *rowCache) put(key, frame []byte, gen uint64) {
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

// invalidate drops key and makes reads that started before it not cache
// what they read.
func (c *rowCache) invalidate(key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if old, had := s.m[string(key)]; had {
		delete(s.m, string(key))
		s.size -= int64(len(key)+len(old)) + entryOverhead
	}
	s.gen++
	s.mu.Unlock()
}
