// Package report renders a drift.Report as one self-contained HTML page:
// a summary table of the subjects (state, features in alert and warn),
// then per feature its state, its distances beside the thresholds in
// force, and a chart of the baseline against the served distribution
// (density steps over the baseline's bins for numeric features, grouped
// bars per category for categorical ones).
//
// Invariants the tests enforce: the page needs no network (uPlot, its
// stylesheet and the data are inlined); every name is escaped by
// html/template, and the data travels in a JSON script block that cannot
// be closed by a name containing "</script>"; in a real browser every
// chart renders (the page records the count in data-charts-rendered on
// <body>) and no script error occurs (data-js-errors stays 0).
package report
