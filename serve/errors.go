package serve

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/compute/model"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

// ErrBadRequest marks request errors found by this package (a missing field,
// an unknown kind); they map to InvalidArgument / 400.
var ErrBadRequest = errors.New("serve: bad request")

// code maps an engine error to its gRPC code. It is the only place that
// decides what a failure means on the wire; HTTP statuses derive from these
// codes through runtime.HTTPStatusFromCode (InvalidArgument → 400,
// FailedPrecondition → 400, NotFound → 404, Unavailable → 503, ...).
func code(err error) codes.Code {
	switch {
	case err == nil:
		return codes.OK
	case errors.Is(err, ErrBadRequest), errors.Is(err, def.ErrInvalid), errors.Is(err, registry.ErrLoad):
		return codes.InvalidArgument
	case errors.Is(err, registry.ErrBreaking):
		return codes.FailedPrecondition
	case errors.Is(err, registry.ErrNotFound):
		return codes.NotFound
	case errors.Is(err, registry.ErrClosed), errors.Is(err, featurestore.ErrStoreUnavailable), errors.Is(err, ErrUnservable):
		return codes.Unavailable
	case errors.Is(err, featurestore.ErrBadEvents), errors.Is(err, featurestore.ErrModel),
		errors.Is(err, model.ErrArtifact), errors.Is(err, model.ErrShape), errors.Is(err, model.ErrInput):
		return codes.InvalidArgument
	case errors.Is(err, featurestore.ErrModelNotFound):
		return codes.NotFound
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrModelUnavailable):
		return codes.Unavailable
	case errors.Is(err, registry.ErrCorrupt):
		return codes.DataLoss
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.Internal
}

// grpcError converts an engine error into a gRPC status error.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(code(err), err.Error())
}

// ErrUnservable marks a request for a feature view or service that is
// defined but cannot be served by this process (its plan did not compile
// here, e.g. its source files are unreadable); it maps to Unavailable / 503.
var ErrUnservable = errors.New("serve: not servable")

// badRequest formats an ErrBadRequest error.
func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

type requestError struct{ msg string }

func (e *requestError) Error() string        { return e.msg }
func (e *requestError) Is(target error) bool { return target == ErrBadRequest }

// notFoundError is a request naming an object that does not exist.
type notFoundError struct {
	what, name string
	known      []string
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("unknown %s %q%s", e.what, e.name, def.HintFor(e.name, e.known))
}

func (e *notFoundError) Is(target error) bool { return target == registry.ErrNotFound }
