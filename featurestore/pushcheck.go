package featurestore

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// DefaultMaxFuture is PushOptions.MaxFuture's default.
const DefaultMaxFuture = time.Hour

// EventError is an error about one value of pushed events: a non-finite
// number in a DOUBLE column that does not allow one, or an event time too
// far in the future. It matches ErrBadEvents. Decoders of a wire format
// name the element their own way from Row and Column (serve writes
// df.fare[3]); Error writes events[3].fare, as the quality gates do.
type EventError struct {
	// Row is the event's index in the batch, from 0.
	Row int
	// Column is the schema column holding the value.
	Column string
	// Msg says what is wrong with the value and how to accept it.
	Msg string
}

func (e *EventError) Error() string {
	return fmt.Sprintf("events[%d].%s: %s", e.Row, e.Column, e.Msg)
}

// Is makes an EventError match ErrBadEvents.
func (e *EventError) Is(target error) bool { return target == ErrBadEvents }

// CheckValues checks the values of events, laid out by src's schema (an
// EventBuilder's batch), that no decoder can refuse alone: a NaN or an
// infinity in a DOUBLE column without AllowNonFinite, and an event time
// (src.TimestampColumn) later than now + maxFuture (maxFuture <= 0: no
// bound). It returns the first offending value, in event order, as an
// *EventError. One bad value would otherwise poison the online state: a
// NaN makes every window that holds it NaN until the window moves past
// it, and an event from the future stays the view's latest (its
// freshness, its last value) until the clock catches up.
func CheckValues(src *def.Source, events *compute.Batch, now time.Time, maxFuture time.Duration) error {
	if len(events.Cols) != len(src.Schema) {
		return fmt.Errorf("%w: push source %q has %d columns, the events %d", ErrBadEvents, src.Name, len(src.Schema), len(events.Cols))
	}
	var doubles []int
	ts := -1
	for i, f := range src.Schema {
		c := events.Cols[i]
		if c.Type != f.Type || c.Len != events.Len {
			return fmt.Errorf("%w: push source %q: column %q is not %d %s values", ErrBadEvents, src.Name, f.Name, events.Len, f.Type)
		}
		if f.Type == def.Double && !f.AllowNonFinite {
			doubles = append(doubles, i)
		}
		if f.Name == src.TimestampColumn && (f.Type == def.Timestamp || f.Type == def.Int64) {
			ts = i
		}
	}
	limit := int64(math.MaxInt64)
	if maxFuture > 0 && ts >= 0 {
		limit = now.Add(maxFuture).UnixMicro()
	}
	for row := 0; row < events.Len; row++ {
		for _, i := range doubles {
			c := events.Cols[i]
			if f := c.F64[row]; (math.IsNaN(f) || math.IsInf(f, 0)) && !c.Null(row) {
				name := src.Schema[i].Name
				return &EventError{Row: row, Column: name, Msg: fmt.Sprintf("%s is not a finite number (source %q column %q is DOUBLE; set allow_non_finite on the column to accept it)", formatNonFinite(f), src.Name, name)}
			}
		}
		if ts >= 0 {
			c := events.Cols[ts]
			if us := c.I64[row]; us > limit && !c.Null(row) {
				return &EventError{Row: row, Column: src.TimestampColumn, Msg: fmt.Sprintf("%s is more than %s in the future (--max-future)", formatMicros(us), formatDuration(maxFuture))}
			}
		}
	}
	return nil
}

// formatNonFinite names f as the JSON decoders accept it.
func formatNonFinite(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f > 0:
		return "+Inf"
	}
	return "-Inf"
}

// formatDuration writes d without Duration.String's zero units: 1h, not
// 1h0m0s; 90m is 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// formatMicros writes a time in microseconds as RFC 3339, or as the
// integer when it is beyond what RFC 3339 can write.
func formatMicros(us int64) string {
	t := time.UnixMicro(us).UTC()
	if t.Year() > 9999 || t.Year() < 0 {
		return strconv.FormatInt(us, 10) + "µs"
	}
	return t.Format(time.RFC3339Nano)
}
