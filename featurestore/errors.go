package featurestore

import (
	"context"
	"errors"
	"fmt"
)

var (
	// ErrLocked is returned by Open when another process holds the data
	// directory, typically a running `fstore serve`.
	ErrLocked = errors.New("featurestore: data directory is in use by another process")
	// ErrInvalidOptions is returned by Open for options that fail Validate.
	ErrInvalidOptions = errors.New("featurestore: invalid options")
)

// ErrStoreUnavailable is matched by errors from an online store that could
// not be reached or failed (serve maps it to 503).
var ErrStoreUnavailable = errors.New("featurestore: online store unavailable")

// unavailable wraps a store error in ErrStoreUnavailable, leaving context
// cancellation and deadlines as they are.
func unavailable(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// ViewError is an error about one feature view, as OnlineViews reports
// each view it cannot compile: callers that go on with the other views
// find which view failed with errors.As instead of reading messages.
type ViewError struct {
	View string
	Err  error
}

func (e *ViewError) Error() string { return e.Err.Error() }
func (e *ViewError) Unwrap() error { return e.Err }

var (
	// ErrModel is matched by errors registering or loading a model version:
	// an undefined model, an input its feature service lacks, a missing or
	// changed artifact file.
	ErrModel = errors.New("featurestore: model registry")
	// ErrModelNotFound is returned for a model or version that is not
	// registered.
	ErrModelNotFound = errors.New("featurestore: model version not found")
)
