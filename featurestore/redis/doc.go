// Package redis is fstore's online store in Redis: a single node
// (redis://host:port/db) or a Redis Cluster (redis-cluster://h1:p1,h2:p2).
// It implements featurestore.OnlineStore structurally and does not import
// package featurestore, which imports it to open a store by URL.
//
// # Key layout
//
// The store's keys are binary: a tag byte and a 4-byte view id
// (featurestore/encoding), then the bytes of the entity. In Redis, a key is
// stored as
//
//	single node: prefix + key
//	cluster:     prefix + "{" + hex8(fnv32a(entity)) + "}" + key
//
// where prefix is the URL's prefix query parameter ("" by default), which
// namespaces a shared Redis and never holds '{' or '}', and entity is the
// key's bytes after its 5-byte view prefix, or the whole key when it has
// no more than 5 bytes (per-view metadata). The hash tag puts every view's
// key of one entity in one slot, hence on one node, while spreading
// entities over the 16384 slots. It is a hash rather than the entity bytes
// themselves because Redis takes the tag to end at the first '}' after the
// first '{', and entity bytes may hold either. Scan strips the prefix and
// the tag: callers only ever see their own keys.
//
// # Round trips
//
// Every batch is one request per node it touches: Get is one MGET on a
// single node and one pipeline of GETs per node in a cluster; Put and
// Delete are pipelines of SET and DEL. Batches larger than 10,000 keys are
// split into requests of at most 10,000, which bounds the memory of one
// request and the time its reply takes against the read timeout.
// RoundTrips counts the requests actually sent.
//
// # Update
//
// Update is an optimistic compare-and-set per key. It reads the batch's
// current values (one request), calls fn for each key, then sends one
// pipeline of EVALSHA of a Lua script that, atomically in Redis, sets the
// new value only if the key still holds the value fn saw (or is still
// absent), and answers 1 or 0. Keys whose answer is 0 lost to another
// writer: they are read again and fn is called again with the newer value,
// after a randomised backoff growing to 51ms, up to 32 attempts before
// ErrContention. Retries take a per-key (striped) lock in the Store first,
// so goroutines of one process contending for a hot key retry one at a
// time instead of starving each other; a first attempt takes no lock, so
// uncontended updates pay nothing. Writers in different processes stay
// purely optimistic: dozens of processes hammering one key can exhaust the
// attempts.
// Comparing values rather than versions keeps the stored bytes exactly
// featurestore/encoding's; a value changed and then changed back between
// the read and the write passes the comparison, which is harmless as fn
// would compute the same new value from it. A node that does not have the
// script cached (a restart, a failover, SCRIPT FLUSH) answers NOSCRIPT, and
// those keys are sent again as EVAL with the script's source.
//
// # Failures
//
// Connecting is bounded by the Dial timeout and every request by the Read
// and Write timeouts; go-redis retries a failed request at most once on a
// single node (a pooled connection that a server restart closed) and
// follows at most 2 cluster redirects, so a dead Redis fails a call within
// a few seconds rather than hanging. Update's compare-and-set requests are
// never resent after a network error, since their first send may have
// been applied: the Update fails instead. Errors are OpError, naming the address,
// and match ErrUnavailable when Redis could not be reached. A context that
// ends stops a call with an error matching ctx.Err(); a context cancelled
// while a reply is awaited takes effect when the read returns or times out,
// since go-redis reads under socket deadlines, not the context.
//
// # Client-side cache
//
// A single node's Store keeps the values this process read in memory
// (featurestore/internal/rowcache; client_cache in the URL, 128MiB by
// default, 0 for none), so that a read of a hot entity costs a hash lookup
// instead of a round trip and Redis's CPU. It is Redis's server-assisted
// client-side caching (CLIENT TRACKING, Redis 6+), in broadcasting mode:
//
//   - One connection of the Store's own, the tracker, turns tracking on for
//     every key under the store's prefix (BCAST PREFIX; every key when the
//     prefix is empty), redirected to itself, and subscribes to
//     __redis__:invalidate. From then on Redis sends it the name of every
//     key written, deleted, expired or evicted under the prefix, by any
//     client, and a null message when a database is flushed.
//   - An invalidation drops the key from the cache, and a read that was in
//     flight when it arrived does not cache what it read (the cache's
//     generations), so a value is never served after its invalidation has
//     arrived. This process's own writes invalidate their keys when they
//     return, before Redis's message comes back.
//   - A value is cached with its expiry, read with PTTL in the same
//     pipeline as the MGET of the misses, so that a key written with a ttl
//     (KeyTTL) stops being served when it expires, not when Redis gets
//     round to deleting it.
//   - The tracker pings every Read/4 and takes a connection that has not
//     answered within Read (default 1s) as lost. While it is lost the cache
//     is flushed and bypassed: every read goes to Redis, as without a
//     cache. It reconnects with a growing backoff (up to 2s) and flushes
//     again before the cache is used.
//
// So a write by another process is seen by reads that start after its
// invalidation reached this process: the time Redis takes to send it on
// loopback or a LAN, far under a millisecond, or Read (1s by default) when
// the tracker's connection went silent without breaking. A cluster has no
// client-side cache (its nodes track their own slots; following slot
// moves and failovers is not built): ParseURL refuses client_cache with
// redis-cluster://. A Redis that refuses to track (before 6, or an ACL
// without CLIENT) leaves the cache off, and Store.ClientCache says why.
//
// Broadcasting sends every write under the prefix to every tracking
// process, read by it or not: with an empty prefix, every key of the
// Redis, other applications' included, so give a shared Redis a prefix.
// A tracker that falls behind a write burst by more than Redis's pub/sub
// output buffer limit (32MB by default) is disconnected by Redis, which is
// a lost tracker as above: flushed, bypassed, reconnected.
package redis
