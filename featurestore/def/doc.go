// Package def holds fstore's definitions as plain Go types: entities,
// sources, feature views, on-demand feature views, feature services, models
// and endpoints, and the rules that make a set of them valid.
//
// These are the types the engine packages (compute, backfill, serve) work on;
// the protobuf types of proto/fstore/v1 stay at the edges and are converted
// by the registry.
//
// Invariants of a Definitions value that passed Validate:
//   - every name is an identifier ([a-z_][a-z0-9_]*, at most 64 bytes) and
//     view and feature names never contain "__", so the training-set column
//     name <view>__<feature> splits back unambiguously;
//   - names are unique per kind; feature views and on-demand feature views
//     share one namespace, since feature references name either;
//   - every reference (entity, source, view, feature, service, model)
//     resolves;
//   - every window is a positive multiple of its hop, and every duration is a
//     whole number of microseconds, the precision of all fstore timestamps.
package def
