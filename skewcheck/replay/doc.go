// Package replay is exact parity replay: it recomputes the rows a feature
// service served and logged (package featurelog) with the offline engine
// (package backfill), at each row's request time and with the registry
// version the log recorded, and compares every served value with the
// offline one.
//
// # Algorithm
//
// The published log files in [Since, Until] (featurelog.List) are grouped
// by schema: (service, registry version, columns). A service's own rows
// (/get-online-features) and a model's rows on it (/v1/predict: its input
// features and the model columns) are two groups, reported apart; a model
// group names the endpoints and models its rows hold. Per group, its files
// in log order:
//
//  1. Backfill. The log files are themselves the spine (backfill.Config
//     Spines, read in the order listed): join keys and request context by
//     name, request_ts as the timestamp. backfill.Run recomputes every
//     logged feature (by its reference, resolved with the recorded
//     version's index) for every logged row at request_ts, carrying only
//     request_ts through (SpineColumns: the logged value columns would
//     collide with the recomputed ones and cost time), with no profile.
//     Its output keeps spine order.
//  2. Compare. The log files, in the same order, and the recomputed rows
//     are streamed side by side, row group by row group (compute's Parquet
//     reader, typed columns, each stream read ahead by a goroutine), and
//     compared in windows of rows present in both. request_ts must agree
//     row by row and both streams must end together (or the replay fails:
//     order lost). Each feature is compared column-wise, with no
//     allocation per value, into four categories: match (equal, or null
//     on both sides), mismatch (both non-null, different), served-only
//     (served non-null, offline null) and offline-only (served null,
//     offline non-null). A served value is non-null when its status is
//     PRESENT and its value is set: NULL_VALUE, NOT_FOUND and
//     OUTSIDE_MAX_AGE are null. Rows of a file that straddles Since or
//     Until are recomputed but only those in range are compared and
//     counted. The request_id of each worst entity's example is read at
//     the end, from the one row group that holds it.
//
// Memory is bounded by backfill's limit, two row groups per stream, and
// the distinct entities with a disagreeing row (at most maxTracked, about
// 200 bytes each); nothing per matching row is kept. Only the recomputed
// rows are written, to TempDir, and removed after the group.
//
// # Equality
//
// Values compare exactly: integers, timestamps, booleans and strings by
// value, doubles bit for bit with any NaN equal to any NaN (so -0 and +0
// differ). The one documented exception (README, Online state: pushes) is
// the DOUBLE result of a SUM, MEAN or STDDEV aggregation of a view whose
// source is a push source: events pushed out of order are added in another
// order than offline, so these match within Config.Tolerance, relative
// (default 1e-9). The function and the source kind come from the
// definitions of the recorded registry version, never from the name.
//
// # Invariants the tests enforce
//
// Served rows read from a store materialised from the same history replay
// with zero disagreements; a value written behind fstore's back (a push
// of an event the history lacks) or a stale materialisation is reported on
// exactly the affected rows and features; a log directory with no file in
// range is an error (ErrNoLogs), never a report of zero mismatches.
package replay
