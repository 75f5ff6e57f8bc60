package serve

import (
	"errors"
	"fmt"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
)

// checkPushValues refuses pushed events holding a value that would
// poison the online state (featurestore.CheckValues: a NaN or an infinity
// in a DOUBLE column that does not allow them, an event time past now +
// Limits.MaxFuture), naming the value by its wire element: prefix is
// "df" for the HTTP push, "columns" for gRPC, so that the error reads
// df.fare[3]: NaN is not a finite number (…). Nothing is written.
func (fs *featureServer) checkPushValues(cat *catalog, source string, events *compute.Batch, prefix string) error {
	src := cat.ix.Source(source)
	if src == nil {
		return nil // decodePush* found it; a catalog without it pushes nowhere
	}
	err := featurestore.CheckValues(src, events, fs.now(), fs.lim.MaxFuture)
	var ev *featurestore.EventError
	if errors.As(err, &ev) {
		return &pushValueError{elem: fmt.Sprintf("%s.%s[%d]", prefix, ev.Column, ev.Row), err: ev}
	}
	return err
}

// pushValueError is an EventError named by its request element; it
// matches featurestore.ErrBadEvents (InvalidArgument, 400).
type pushValueError struct {
	elem string
	err  *featurestore.EventError
}

func (e *pushValueError) Error() string { return e.elem + ": " + e.err.Msg }
func (e *pushValueError) Unwrap() error { return e.err }

// pushOptions are the featurestore.PushOptions of this server's pushes.
func (fs *featureServer) pushOptions() featurestore.PushOptions {
	return featurestore.PushOptions{Now: fs.now, MaxFuture: fs.lim.MaxFuture}
}
