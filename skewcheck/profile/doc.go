// Package profile computes, encodes and reads baseline profiles: per
// column statistics of a training set (written by backfill beside it as
// <out>.profile.json) or of any set of named columns (a model's
// predictions), for the drift monitor to compare served values with.
//
// # Computing
//
// A Profiler profiles columns chunk by chunk in two steps, so that the
// expensive part runs in parallel: Prepare computes a chunk's share on
// its own (moments, null and NaN counts, a DDSketch's bins, frequencies,
// a HyperLogLog), reading nothing of the Profiler but its fields, so
// workers prepare chunks concurrently; Merge then folds prepared chunks
// in, in order, on one goroutine. The result is the same, bit for bit, as
// Add on the chunks in turn (TestPrepareMergeMatchesAdd).
//
// Per column:
//   - every type: count (non-null values, NaN included) and nulls;
//   - INT64, DOUBLE, TIMESTAMP (microseconds): min, max, mean, stddev
//     (population) and nan over the numbers (neither null nor NaN);
//     quantiles p01, p05, p25, p50, p75, p95, p99 from a uniform
//     reservoir sample of ReservoirSize values with a fixed seed (as in
//     v1); and a DDSketch (github.com/DataDog/sketches-go, cubically
//     interpolated logarithmic mapping, no log computed per value) of relative accuracy RelativeAccuracy: any quantile it
//     gives is within 1% of a value of the data at that rank. Each of its
//     positive and negative stores keeps at most SketchBins bins; beyond
//     that the bins nearest zero collapse (values with a dynamic range
//     above gamma^SketchBins ≈ 1e17 lose accuracy near zero only).
//     Infinities are in the moments and the reservoir but not the sketch
//     (the sketch's "outside" counts them);
//   - INT64 and STRING: the TopK most frequent values and a distinct
//     count. Frequencies are exact while the column has at most
//     ExactDistinct distinct values; beyond that they are a Misra–Gries
//     summary of HeavyHitters counters (mergeable: Agarwal et al. 2012),
//     whose counts are lower bounds, each at most TopError below the true
//     count (TopError ≤ count/(HeavyHitters+1)). The distinct count is
//     then a HyperLogLog estimate (precision 14: 16,384 one-byte
//     registers, standard error 1.04/√16384 ≈ 0.81%; xxhash64 of the
//     string, splitmix64 of the integer). INT64 values are written in
//     decimal. Memory per column is bounded whatever the cardinality;
//   - BOOL: true and false counts.
//
// # Format
//
// Format ("fstore.profile/v2") is a superset of FormatV1: the same fields,
// plus per feature "false" (BOOL), "distinct_approx" and "top_error"
// (INT64, STRING), "sketch" (numbers: {"relative_accuracy", "max_bins",
// "ddsketch": the sketch's protobuf encoding (sketchpb.DDSketch), base64}),
// and an optional top-level "expectations" array (the data-quality gate
// report, ExpectationResult). Decode and Read accept both versions; v1
// files lack sketches, and their CutPoints interpolate the p01..p99
// quantiles.
//
// Invariants: Decode never panics and bounds its allocations by the
// input's size (FuzzDecode); Encode(Decode(b)) decodes to the same
// profile; a sketch read back has the mapping it was written with and at
// most SketchBins bins per store.
package profile
