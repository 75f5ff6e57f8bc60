package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"
)

var (
	// ErrInvalidURL is returned by ParseURL and Open for a URL they cannot
	// use; the message names the bad part.
	ErrInvalidURL = errors.New("redis: invalid URL")
	// ErrUnavailable is matched (errors.Is) by every error of a Redis that
	// could not be reached or answered within the timeouts: refused or
	// timed-out connections, broken sockets, a cluster that is down. A
	// caller maps it to its own "store unavailable" error.
	ErrUnavailable = errors.New("redis: unavailable")
	// ErrContention is returned by Update when a key's compare-and-set lost
	// to other writers on every one of its attempts.
	ErrContention = errors.New("redis: update gave up under contention")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("redis: store is closed")
	// ErrInvalidArgument is returned for calls that break a method's
	// contract, such as Put with fewer values than keys or a negative ttl.
	ErrInvalidArgument = errors.New("redis: invalid argument")
)

// OpError is the error of an operation that Redis failed or could not be
// reached for. Its message names the address ("cannot reach redis at
// 127.0.0.1:6379: ..."); it unwraps to the cause (a context error, a
// network error, a Redis error reply) and matches ErrUnavailable when the
// cause is one of being unreachable rather than a reply Redis gave.
type OpError struct {
	// Op is the verb of the message: "reach", "read from", "write to", ...
	Op string
	// Addr is the address of the store: host:port, or the comma-separated
	// seed nodes of a cluster.
	Addr string
	// Err is the cause.
	Err error
	// Unavailable reports whether the cause is a store that could not be
	// reached or did not answer in time.
	Unavailable bool
}

// Error implements error.
func (e *OpError) Error() string {
	return "cannot " + e.Op + " redis at " + e.Addr + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// Is reports whether target is ErrUnavailable and the cause is one of
// being unreachable.
func (e *OpError) Is(target error) bool {
	return target == ErrUnavailable && e.Unavailable
}

// opError wraps err, the failure of op, with the store's address. When ctx
// has ended the cause is ctx.Err(), whatever go-redis made of it, so a
// caller sees context.Canceled or context.DeadlineExceeded.
func opError(ctx context.Context, op, addr string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &OpError{Op: op, Addr: addr, Err: ctxErr}
	}
	return &OpError{Op: op, Addr: addr, Err: err, Unavailable: unavailable(err)}
}

// unavailable reports whether err means the store could not be reached or
// did not answer, as opposed to an error reply of a working Redis.
func unavailable(err error) bool {
	var reply goredis.Error
	if !errors.As(err, &reply) {
		// Network errors, timeouts, io.EOF, a closed pool.
		return true
	}
	for _, prefix := range []string{"CLUSTERDOWN", "LOADING", "TRYAGAIN", "MASTERDOWN", "READONLY"} {
		if goredis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}
