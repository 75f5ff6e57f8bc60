package profile

import "errors"

// ErrFormat is returned, wrapped with the file (when there is one), the
// field and what was expected, for a profile that cannot be decoded.
var ErrFormat = errors.New("profile: bad profile")

// ErrColumns is returned when the columns given to a Profiler do not
// match its fields (count or type).
var ErrColumns = errors.New("profile: columns do not match the profiled fields")
