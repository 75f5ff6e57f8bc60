//go:build !unix

package featurestore

// lockDir relies on Pebble's own directory lock where flock is not
// available; a second Open then fails with Pebble's error, not ErrLocked.
func lockDir(string) (func() error, error) { return func() error { return nil }, nil }
