// Package skewcheck watches that what a model sees online is what it was
// trained on. Its rooms:
//
//   - profile: the baseline profile of a training set (and of a model's
//     held-out predictions): counts, nulls, moments, a quantile sketch,
//     top values and a distinct estimate per feature; written by backfill
//     and fstore train, stored with each model version.
//   - drift: streaming sketches of served values bound to a baseline's
//     bins, over tumbling windows and since start; PSI, Jensen–Shannon,
//     KS, L∞ and null-rate distances with significance tests, thresholds
//     and states (ok, warn, alert, insufficient_data), subscriptions.
//   - featurelog: sampled served rows to Parquet, off the request path;
//     the files are backfill spines.
//   - replay: logged rows recomputed by the offline engine and compared
//     value by value (exact parity).
//   - report: the HTML page of a drift report.
//
// This package joins them for their callers (serve, cmd): a profile's
// features become drift baselines (FeatureSpec), and the reports of
// several monitors become one (MergeReports).
//
// Invariants: a baseline feature the profile lacks, or cannot bin, is an
// error naming the feature, never a silent pass; too few served samples is
// insufficient_data, never ok.
package skewcheck
