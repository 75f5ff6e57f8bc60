package encoding

import "errors"

var (
	// ErrCorrupt is returned for bytes that are not a valid encoding.
	ErrCorrupt = errors.New("encoding: corrupt bytes")
	// ErrSchemaVersion is returned when a value was written for another
	// schema version than the reader's.
	ErrSchemaVersion = errors.New("encoding: value written for another schema version")
)
