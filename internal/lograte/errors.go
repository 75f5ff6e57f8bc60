package lograte

import "errors"

// ErrOptions reports an invalid Options value; the error names the field.
var ErrOptions = errors.New("lograte: invalid options")
