// Package backfill builds point-in-time-correct training sets from Parquet:
// for every spine row (entity keys, a timestamp t, any other columns) and
// every requested feature, the value that was known at t, with the exact
// semantics of DESIGN.md (latest event at or before t, ties by created
// timestamp then file order, TTL inclusive, tile-aligned windows), computed
// by the same compute plans the online path runs.
//
// It works in bounded memory, whatever the input size. Each view is joined
// one of two ways, chosen by size (choosePlans):
//
//   - broadcast (window-less views whose state fits in half of the memory
//     limit): the spine's keys and times are indexed once, grouped by key
//     and sorted by time (spineIndex); the source is read in parallel by
//     row group, and each batch, sorted by key, is merged against the
//     index: an event is offered to the first spine row of its key at or
//     after it, which keeps the best (event time, created time, file
//     order) of those offered; finish then gives every spine row the best
//     event of the last row at or before it, or null when that is older
//     than the TTL. Nothing is spilled. The state is one record per spine
//     row, kept outside the Go heap (allocWords).
//   - spill (windowed views, or state too large): the spine and the
//     source are written to spill files partitioned by key hash; each
//     partition's rows, which fit in memory, are sorted and merge-joined,
//     in parallel, and the results spilled sorted by spine row number.
//
// The output is assembled spine row group by spine row group, in parallel,
// committed in order: broadcast values are gathered, spilled results merged
// back in by row number, on-demand features computed per batch. When every
// spine row group fits in an output row group, the spine's column chunks
// are copied byte for byte and the features encoded straight into pages
// (chunkWriter); otherwise parquet-go writes the rows. The output goes to a
// temporary file renamed into place only on success.
//
// Invariants: output rows are the spine rows in spine order with every
// spine column; a missing value is null, never zero; the output file exists
// only if the whole run succeeded; both joins give the same values (the
// differential tests run each on the same inputs).
package backfill
