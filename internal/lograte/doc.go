// Package lograte rate-limits repeated log lines.
//
// A Limiter decides, for each occurrence of an event identified by a Key
// (endpoint, status, error kind — a class of message, never the message
// itself, which carries per-request detail), whether to log it:
//
//   - the first occurrence of a key is logged at once;
//   - after that, at most one line per key per Interval is logged, and that
//     line reports how many occurrences were suppressed since the last line
//     of the same key.
//
// Invariants the tests enforce:
//
//   - Counts are exact: over any sequence of calls, the occurrences of a key
//     equal the allowed lines plus the suppressed counts reported (by Allow
//     and Flush) plus the count still pending.
//   - Memory is bounded: at most MaxKeys keys are tracked. When the table is
//     full, keys idle for a full Interval are evicted (their pending counts
//     move to the overflow key, so none is lost); if none is idle, a new key
//     is counted under the overflow key (OverflowKey), which is rate-limited
//     like any other.
//   - Suppressing does not allocate; only the first sight of a key does.
//   - A Limiter is safe for concurrent use. A nil *Limiter allows every line.
package lograte
