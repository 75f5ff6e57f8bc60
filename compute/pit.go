package compute

import "math"

// Point-in-time selection, shared by the offline join (backfill) and the
// online state (materialisation and reads), so that "the value at t" has
// one implementation.
//
// Events are ordered by (event time, created time, arrival order): the
// latest event at or before t is the last in that order with ts <= t. A
// missing created time sorts before every present one, so it loses ties.

// CompareEvents orders two events by event time, then created time: -1
// when a is earlier, 1 when it is later, 0 when they tie (then the one that
// came later — in file order offline, in arrival order online — wins). It
// is the one definition of "later event" that the point-in-time join, the
// online state and the LAST aggregation all use.
func CompareEvents(aTS, aCreated, bTS, bCreated int64) int {
	switch {
	case aTS < bTS:
		return -1
	case aTS > bTS:
		return 1
	case aCreated < bCreated:
		return -1
	case aCreated > bCreated:
		return 1
	}
	return 0
}

// NullCreated is the created time that stands for "none" when events are
// ordered: it loses every tie.
const NullCreated int64 = math.MinInt64

// Fresh reports whether an event at eventTS still counts at t under ttl
// microseconds (0: no TTL). TTL is inclusive: an event exactly ttl old is
// fresh; one microsecond older is not.
func Fresh(eventTS, t, ttl int64) bool { return ttl == 0 || eventTS >= t-ttl }

// Latest finds, for ascending query times, the latest event at or before
// each time among one entity's events sorted in point-in-time order.
type Latest struct {
	ts   []int64
	next int
}

// Reset starts over with the event times of another entity.
func (l *Latest) Reset(ts []int64) { l.ts, l.next = ts, 0 }

// At returns the index of the latest event at or before t, or -1 when
// there is none. Calls must come in ascending t.
func (l *Latest) At(t int64) int {
	for l.next < len(l.ts) && l.ts[l.next] <= t {
		l.next++
	}
	return l.next - 1
}
