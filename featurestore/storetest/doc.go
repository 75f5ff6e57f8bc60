// Package storetest is the conformance suite of featurestore.OnlineStore:
// Run checks an implementation against the interface's contract, so every
// store (Pebble, Redis, Redis Cluster) is held to the same semantics. It is
// imported by tests only.
//
// Subtests do not assume a store of their own: each works under a random
// view id (the 4 bytes after the tag byte of featurestore/encoding's keys),
// so they may share one store and one Redis. They never scan with an empty
// prefix. Timing checks are one-sided: a key written with a ttl must be
// present when read back within the ttl, and absent within a generous
// deadline after it, never at an exact time.
package storetest
