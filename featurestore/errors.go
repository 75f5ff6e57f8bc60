package featurestore

import "errors"

var (
	// ErrLocked is returned by Open when another process holds the data
	// directory, typically a running `fstore serve`.
	ErrLocked = errors.New("featurestore: data directory is in use by another process")
	// ErrInvalidOptions is returned by Open for options that fail Validate.
	ErrInvalidOptions = errors.New("featurestore: invalid options")
)
