// Package encoding is the byte layout of fstore's online state: entity keys,
// feature values and window tiles. Every online store (Pebble, Redis, Redis
// Cluster) stores exactly these bytes, so a value written by one is read by
// another.
//
// Keys are append-style and order-preserving: a one-byte tag, the view's
// numeric id (big-endian uint32, never its name), then each join key part.
// INT64 parts are big-endian with the sign bit flipped, so byte order is
// numeric order; STRING parts escape 0x00 as 0x00 0xFF and end with
// 0x00 0x01, so byte order is string order and a composite key never
// splits ambiguously.
//
// A value is everything the online path holds for one entity of one view,
// read with one GET: a format byte, the view's schema version, the event
// and created time of the latest row, the packed plain features, and the
// window tiles of each aggregation. The schema version lets a reader refuse
// bytes written for another schema instead of misreading them.
//
// Decoders never panic and never read past their input; they return the
// rest of the input, slicing into it rather than copying, except for
// strings, which are copied.
package encoding
