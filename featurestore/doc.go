// Package featurestore is fstore's engine API: Open a data directory and get
// the versioned registry of definitions (and, as the online-state work lands,
// the online store and materialisation).
//
// A data directory is one Pebble database. Keys are namespaced by a prefix
// per component ("registry/" for the registry), so every component commits
// to the same write-ahead log and a directory is copied or backed up as one
// unit. One process opens a directory at a time; a second Open fails fast
// with ErrLocked instead of waiting.
package featurestore
