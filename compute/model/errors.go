package model

import (
	"errors"
	"fmt"
)

var (
	// ErrArtifact is matched by every error from decoding a model artifact
	// (Unmarshal, Load): bad magic, unsupported version, truncation,
	// checksum mismatch, inconsistent shapes, non-finite values.
	ErrArtifact = errors.New("model: bad model artifact")
	// ErrInput is matched by errors about training input: an unreadable or
	// corrupt Parquet file, a missing column or one of the wrong type, an
	// invalid architecture string or training configuration, a dataset
	// that cannot be trained on.
	ErrInput = errors.New("model: bad input")
	// ErrShape is matched by errors from Engine.Predict about the lengths of
	// its buffers.
	ErrShape = errors.New("model: wrong shape")
)

// Error is a precise error that matches one of the sentinels above with
// errors.Is. Msg is complete: it names what is wrong and where. Err, when
// set, is the underlying cause (a file system or Parquet error).
type Error struct {
	Kind error
	Msg  string
	Err  error
}

// Error returns Msg.
func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, e.Kind) true.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &Error{Kind: ErrInput, Msg: "model: " + fmt.Sprintf(format, args...)}
}

func wrapInput(err error, format string, args ...any) error {
	return &Error{Kind: ErrInput, Msg: "model: " + fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

func artifactErrorf(format string, args ...any) error {
	return &Error{Kind: ErrArtifact, Msg: "model artifact: " + fmt.Sprintf(format, args...)}
}

func shapeErrorf(format string, args ...any) error {
	return &Error{Kind: ErrShape, Msg: "model: " + fmt.Sprintf(format, args...)}
}
