package bench

import "errors"

// ErrInvalidConfig is returned, wrapped with the offending field, when a
// scenario's configuration cannot run: checked before any work starts.
var ErrInvalidConfig = errors.New("bench: invalid config")
