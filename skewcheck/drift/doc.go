// Package drift compares served feature values and predictions with their
// training baselines, continuously, inside the server.
//
// A baseline (Baseline) is either numeric — strictly increasing edges
// (typically the 1%..99% quantiles of the training column, deduplicated;
// NewNumericBaseline builds them from quantile cut points) and the
// baseline mass of each of the len(Edges)+1 bins — or categorical — top
// values with their shares and one "other" share. A Monitor holds
// subjects (a feature service, or a model version's predictions), each
// with features bound to baselines at Register; the returned *Feature is
// the hot-path handle. Observing a value is a branch-free binary search
// over the edges (or one map lookup for a category) and one atomic add on
// a counter stripe picked at random, so that concurrent request
// goroutines rarely share a cache line; it takes no lock, reads no clock
// and allocates nothing.
//
// Windows are tumbling, aligned to multiples of Options.Window since the
// Unix epoch. They close on the monitor's goroutine (every CheckInterval)
// and on Snapshot: the current window becomes the last completed one, the
// one before is folded into the since-start accumulation. The last
// completed window is the one whose state counts for alerts and events;
// the current partial window and the since-start accumulation are
// reported beside it.
//
// Verdicts (Compare): each metric has warn and alert levels (Thresholds,
// whose doc justifies the defaults with the power study in POWER.md), and
// counts only when its test is significant at α (KS: D above the KS
// critical value for the two sample sizes; PSI, JS, L∞: the chi-square
// test on the bins; null rate: the two-proportion z-test). A window with
// fewer than MinSamples observations is insufficient_data, which ranks
// above ok and below warn and is never reported as ok. A feature's state
// is the worst of its metrics', a subject's the worst of its features'.
//
// Events (Listener) are raised when a window closes and a subject's or
// feature's state enters or leaves warn or alert; they are delivered on
// the monitor's goroutine, outside its locks, never on a request's.
//
// # The report: GET /v1/skew
//
// Snapshot returns a Report; its JSON (DecodeReport reads it back) is:
//
//	{
//	  "generated_at": "2026-01-08T12:05:30Z",
//	  "window_seconds": 300,
//	  "state": "alert",                      // worst over subjects
//	  "subjects": [{
//	    "kind": "feature_service",           // or "model_version"
//	    "name": "driver_ranking",
//	    "state": "alert",                    // worst over features
//	    "baseline_source": "quickstart/train.parquet",
//	    "registered_at": "2026-01-08T12:00:00Z",
//	    "features": [{
//	      "name": "driver_hourly__conv_rate",
//	      "type": "float64",                 // float64, int64, string, bool
//	      "state": "alert",                  // = window.state
//	      "thresholds": {"psi_warn": 0.1, "psi_alert": 0.2, "js_warn": 0.02, "js_alert": 0.04,
//	                     "ks_warn": 0.05, "ks_alert": 0.08, "linf_warn": 0.03, "linf_alert": 0.05,
//	                     "null_warn": 0.05, "null_alert": 0.1, "alpha": 0.001, "min_samples": 1000},
//	      "window": {                        // the last completed window; "current" and
//	                                         // "since_start" have the same shape
//	        "start": "2026-01-08T12:00:00Z", "end": "2026-01-08T12:05:00Z",
//	        "samples": 10000,                // values in the bins
//	        "total": 10000,                  // + nulls, nan, not_found, outside_max_age
//	        "nulls": 0, "nan": 0, "not_found": 0, "outside_max_age": 0,
//	        "null_rate": 0, "null_rate_delta": -0.02, "not_found_rate": 0, "outside_max_age_rate": 0,
//	        "distances": {"psi": 0.257, "js": 0.046, "ks": 0.196},   // "linf" for categorical;
//	                                                                 // absent without samples
//	        "significance": {"ks_critical": 0.0204, "chi_square": 2110.5, "chi_square_df": 99,
//	                         "chi_square_p": 0, "null_p": 1e-30},
//	        "state": "alert",
//	        "reasons": ["psi 0.2573 ≥ alert 0.2", "ks 0.1956 ≥ alert 0.08"],
//	        "histogram": {                   // numeric: edges; categorical: "categories",
//	                                         // with one more bin last for other
//	          "edges": [0.17, 0.19, ...],
//	          "baseline": [0.01, 0.01, ...], // baseline mass per bin
//	          "served": [3, 12, ...]         // served counts per bin
//	        }
//	      },
//	      "current": {...},
//	      "since_start": {...}
//	    }]
//	  }]
//	}
//
// States are the strings "ok", "warn", "alert" and "insufficient_data".
// Statistics that would be infinite (a served value in a bin the baseline
// gives no mass) are written as the largest float64.
//
// Invariants the tests enforce: distances equal hand-computed values; the
// bin search agrees with sort.SearchFloat64s; observing allocates nothing;
// concurrent observations are all counted; too few samples is never ok;
// the defaults keep baseline traffic below alert in ≥ 99% of 10,000-value
// windows and alert on a 0.25σ mean shift and on a doubled category share
// in ≥ 95% (TestPower); a report round-trips through DecodeReport, which
// never panics (FuzzDecodeReport); the monitor's goroutine stops at Close
// (goleak).
package drift
