package registry

import "errors"

var (
	// ErrLoad is matched by every error LoadFiles and ParseText return:
	// unreadable files and textproto syntax errors.
	ErrLoad = errors.New("registry: cannot load definitions")
	// ErrBreaking is returned by Apply when the plan has breaking changes
	// and AllowBreaking is not set.
	ErrBreaking = errors.New("registry: breaking changes")
	// ErrNotFound is returned when a version or object does not exist.
	ErrNotFound = errors.New("registry: not found")
	// ErrCorrupt is returned when stored registry data cannot be decoded.
	ErrCorrupt = errors.New("registry: corrupt registry data")
	// ErrClosed is returned by operations on a closed registry.
	ErrClosed = errors.New("registry: closed")
)
