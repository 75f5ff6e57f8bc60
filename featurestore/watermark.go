package featurestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/fstore/fstore/featurestore/encoding"
)

// Watermark is what a view's online state includes.
type Watermark struct {
	// SchemaVersion is the layout the materialised values were written
	// with; a view whose definition changed is rebuilt in full.
	SchemaVersion uint32
	// Through is the end of the latest completed materialisation: every
	// history event at or before it is in the online state (microseconds;
	// math.MinInt64 when the view was never materialised).
	Through int64
	// At is when that materialisation finished (wall clock, microseconds).
	At int64
	// LastPushEvent is the greatest event time pushed so far and
	// LastPushAt when it arrived (microseconds; 0 when nothing was pushed).
	LastPushEvent, LastPushAt int64
	// Pushed counts pushed events.
	Pushed int64
}

// Materialized reports whether the view was ever materialised.
func (w Watermark) Materialized() bool { return w.Through != math.MinInt64 }

// Lag returns how far the online state trails now: now minus the later of
// the materialisation watermark and the newest pushed event; -1 when the
// view holds nothing yet.
func (w Watermark) Lag(now time.Time) time.Duration {
	latest := w.Through
	if w.LastPushEvent != 0 && w.LastPushEvent > latest {
		latest = w.LastPushEvent
	}
	if latest == math.MinInt64 {
		return -1
	}
	return now.Sub(time.UnixMicro(latest))
}

// Meta key suffixes: materialisation and push keep separate keys so that
// neither overwrites the other's record.
const (
	metaMaterialized byte = 'w'
	metaPushed       byte = 'p'
	metaFormat       byte = 1
)

func metaKey(view uint32, kind byte) []byte {
	return append(encoding.AppendKeyPrefix(nil, encoding.TagMeta, view), kind)
}

// ReadWatermark reads the view's watermark from store.
func ReadWatermark(ctx context.Context, store OnlineStore, ov *OnlineView) (Watermark, error) {
	w := Watermark{Through: math.MinInt64}
	var derr error
	err := store.Get(ctx, [][]byte{metaKey(ov.ID, metaMaterialized), metaKey(ov.ID, metaPushed)}, func(i int, b []byte) {
		var e error
		if i == 0 {
			e = decodeMaterialized(b, &w)
		} else {
			e = decodePushed(b, &w)
		}
		if e != nil && derr == nil {
			derr = fmt.Errorf("featurestore: view %q: corrupt watermark: %w", ov.Name, e)
		}
	})
	if err != nil {
		return w, unavailable(err)
	}
	return w, derr
}

func encodeMaterialized(w Watermark) []byte {
	b := []byte{metaFormat}
	b = binary.BigEndian.AppendUint32(b, w.SchemaVersion)
	b = binary.AppendVarint(b, w.Through)
	return binary.AppendVarint(b, w.At)
}

func decodeMaterialized(b []byte, w *Watermark) error {
	if len(b) < 5 || b[0] != metaFormat {
		return fmt.Errorf("unknown format")
	}
	w.SchemaVersion = binary.BigEndian.Uint32(b[1:5])
	b = b[5:]
	var n int
	if w.Through, n = binary.Varint(b); n <= 0 {
		return fmt.Errorf("bad through")
	}
	b = b[n:]
	if w.At, n = binary.Varint(b); n <= 0 || n != len(b) {
		return fmt.Errorf("bad time")
	}
	return nil
}

func encodePushed(w Watermark) []byte {
	b := []byte{metaFormat}
	b = binary.AppendVarint(b, w.LastPushEvent)
	b = binary.AppendVarint(b, w.LastPushAt)
	return binary.AppendVarint(b, w.Pushed)
}

func decodePushed(b []byte, w *Watermark) error {
	if len(b) < 1 || b[0] != metaFormat {
		return fmt.Errorf("unknown format")
	}
	b = b[1:]
	for _, p := range []*int64{&w.LastPushEvent, &w.LastPushAt, &w.Pushed} {
		v, n := binary.Varint(b)
		if n <= 0 {
			return fmt.Errorf("bad push record")
		}
		*p, b = v, b[n:]
	}
	if len(b) != 0 {
		return fmt.Errorf("bad push record")
	}
	return nil
}
