// Package replay is exact parity replay: it recomputes the rows a feature
// service served and logged (package featurelog) with the offline engine
// (package backfill), at each row's request time and with the registry
// version the log recorded, and compares every served value with the
// offline one.
//
// # Algorithm
//
// The published log files in [Since, Until] (featurelog.List) are grouped
// by (service, registry version); files of one group must have the same
// columns. Per group, in log order:
//
//  1. Spine. Each file is read (featurelog.ReadFile: one file at a time,
//     files are bounded by the logger's MaxFileBytes) and its rows with
//     request_ts in range are written, column by column, to a temporary
//     Parquet spine: replay_row (the row's number in the group), request_id,
//     request_ts, the join keys and request-context fields by name (what
//     feature views and on-demand views read), then per feature the served
//     value and status as replay_served__<view>__<feature> and
//     replay_status__<view>__<feature>.
//  2. Backfill. backfill.Run recomputes every logged feature (by its
//     reference, resolved with the recorded version's index) for every
//     spine row at request_ts. backfill keeps spine order and carries every
//     spine column into its output, so the served values arrive beside the
//     offline ones.
//  3. Compare. The output is read row group by row group (compute's
//     Parquet reader, typed columns); replay_row must count up from 0 (or
//     the replay fails: order lost). Each feature is compared column-wise,
//     with no allocation per value, into four categories: match (equal, or
//     null on both sides), mismatch (both non-null, different), served-only
//     (served non-null, offline null) and offline-only (served null,
//     offline non-null). A served value is non-null when its status is
//     PRESENT and its value is set: NULL_VALUE, NOT_FOUND and
//     OUTSIDE_MAX_AGE are null.
//
// Memory is bounded by one log file, one output row group, and the
// distinct entities with a disagreeing row (at most maxTracked, about
// 200 bytes each); nothing per matching row is kept.
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
