// Package featurelog logs the rows a feature service serves to Parquet
// files, off the request path, for skew checks and exact offline replay,
// and reads them back.
//
// # Request path
//
// A service whose definition has logging { sample_rate destination }
// decides per entity with Sample, or a Sampler holding the threshold
// computed once (xxhash64 of the encoded entity key
// against sample_rate·2^64: whole entities, the same decision on every
// replica and after restarts), copies the sampled rows of a request into a
// pooled Batch (Acquire; AddRow, SetKey, SetContext, SetFeature, SetModel)
// and hands it to Logger.Submit. Submit never blocks and never fails the
// request: when the queue holds Options.QueueRows rows the batch is
// dropped and counted; a misused batch (Batch.Err) is dropped and counted.
// In steady state the request path allocates nothing per row.
//
// # Writer
//
// One goroutine per Logger writes batches, one open file per schema: a
// service's own rows (/get-online-features) and each model's rows on it
// (/v1/predict: its input features and the model columns), interleaved
// request by request, each fill a file of their own, and a new registry
// version starts new files. At most Options.MaxOpenFiles are open; opening
// one more first publishes the least recently written. A file is
// published (footer written, fsynced, renamed from its temporary name,
// directory fsynced) when it reaches Options.MaxFileBytes, when its first
// row is Options.MaxFileAge old, when too many are open, on Flush and on
// Close.
// When the destination cannot be written (missing permissions, a regular
// file in the way, a full disk) the rows of the failed batch and of the
// unpublished file are dropped and counted, the error is logged at most
// every 10 s, and the writer tries again after a backoff (100 ms doubling
// to 5 s), recovering by itself once the destination is writable. One
// Logger writes a directory at a time; on first use of a service
// directory it removes the temporary files a crashed process left.
//
// Invariants the tests enforce: a reader (List) never sees a partial
// file, even after kill -9; interleaved schemas make one file each, not
// one per switch; every submitted row is counted once, in
// Stats.RowsLogged or one of the RowsDropped counters; Close publishes
// everything submitted before it and leaves no goroutine.
//
// # Log file contract (fstore.featurelog/v1)
//
// Files live under <Dir>/<service>/, named
// <wall time its first row was written, 20060102T150405.000000Z, UTC>-<8-character writer token>-<6-digit sequence>.parquet,
// so that lexical order is time order and writers in several processes
// (replicas sharing a destination) never pick the same name. A file is
// written as .<name>.tmp and renamed when complete: readers ignore names
// starting with '.' or ending in ".tmp". Temporary files untouched for
// ten times MaxFileAge (at least ten minutes) are a crashed writer's and
// are removed when a writer first uses the directory. Each file holds rows of one schema (one
// feature service at one registry version), columns in this order:
//
//	request_id                   STRING, required
//	request_ts                   TIMESTAMP(MICROS, UTC adjusted), required:
//	                             the time the request was evaluated at
//	<join key>...                INT64 or STRING, nullable, by key name
//	<request context field>...   BOOL, INT64, DOUBLE, STRING or TIMESTAMP(MICROS), nullable
//	per feature <view>__<feature>, in the service's order:
//	  <view>__<feature>          the feature's type, nullable
//	  <view>__<feature>__status  INT32, required: Feast's FieldStatus,
//	                             1 PRESENT, 2 NULL_VALUE, 3 NOT_FOUND, 4 OUTSIDE_MAX_AGE
//	  <view>__<feature>__event_ts TIMESTAMP(MICROS), nullable: the value's
//	                             event time; null for on-demand features or no value
//	when the service has a model:
//	  endpoint                   STRING, nullable
//	  model                      STRING, nullable
//	  model_version              INT64, nullable
//	  prediction                 DOUBLE, nullable
//
// Parquet key-value metadata "fstore.featurelog" holds JSON (Meta):
//
//	{"format": "fstore.featurelog/v1", "service": "...", "registry_version": N,
//	 "columns": [{"name", "type", "role", "feature", "nullable"}, ...],
//	 "first_request_ts": RFC 3339, "last_request_ts": RFC 3339, "rows": N}
//
// where role is request_id, request_ts, key, context, value, status,
// event_ts, endpoint, model, model_version or prediction, and type a
// def.ValueType name or INT32. The metadata's columns must list exactly
// the file's columns; readers reject anything else with an error naming
// the file (ErrFormat).
//
// A log file is a valid backfill spine (fstore backfill --spine FILE
// --timestamp-column request_ts): its join keys and request context
// columns are read by name. backfill refuses a spine column named like a
// requested feature in its output, so replaying the very features a file
// logged carries only some spine columns through (backfill.Config
// SpineColumns, as package replay does: request_ts alone). The files of
// one schema, in name order, are one spine (backfill.Config Spines).
//
// # Reading
//
// List returns a directory's published files with their metadata, filtered
// by request time; ReadFile reads one whole, with typed columns. Both go
// through compute's Parquet reader, which checks footers before decoding
// them, and bound the rows a file may claim by its size, so a corrupt
// file is an error, never a panic or a huge allocation.
package featurelog
