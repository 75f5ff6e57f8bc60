// Package backfill builds point-in-time-correct training sets from Parquet:
// for every spine row (entity keys, a timestamp t, any other columns) and
// every requested feature, the value that was known at t, with the exact
// semantics of DESIGN.md (latest event at or before t, ties by created
// timestamp then file order, TTL inclusive, tile-aligned windows), computed
// by the same compute plans the online path runs.
//
// It works out of core, in bounded memory, whatever the input size:
//
//  1. scan: the spine and every needed source are read in parallel by row
//     group, only the columns the plans need; source rows go through the
//     view's filter and expressions (vectorised), and every row is written
//     to a spill file chosen by the hash of its entity key;
//  2. join: each partition's spine and source rows, which now fit in
//     memory, are sorted and merge-joined, in parallel; results are spilled
//     sorted by spine row number;
//  3. assemble: the spine is read again in order, results are merged back
//     in by row number, on-demand features are computed per batch, and the
//     output is written row group by row group to a temporary file that is
//     renamed into place only on success.
//
// Invariants: output rows are the spine rows in spine order with every
// spine column; a missing value is null, never zero; the output file exists
// only if the whole run succeeded.
package backfill
