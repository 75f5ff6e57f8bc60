// Package featurestore is fstore's engine API: Open a data directory and get
// the versioned registry of definitions (and, as the online-state work lands,
// the online store and materialisation).
//
// A data directory is one Pebble database. Keys are namespaced by a prefix
// per component ("registry/" for the registry), so every component commits
// to the same write-ahead log and a directory is copied or backed up as one
// unit. One process opens a directory at a time; a second Open fails fast
// with ErrLocked instead of waiting.
//
// Pushed events cannot poison the online state: Push checks a whole batch
// before writing any of it, and refuses (ErrBadEvents, an EventError naming
// the event and column) a NaN or an infinity in a DOUBLE column whose
// schema field does not set AllowNonFinite, and an event time later than
// now + PushOptions.MaxFuture (default 1h). One NaN would otherwise make
// every window holding it NaN until the window moved past it, and one event
// from the future would stay the view's latest until the clock caught up.
package featurestore
