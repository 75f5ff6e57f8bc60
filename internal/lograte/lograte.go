package lograte

import (
	"fmt"
	"sync"
	"time"
)

// Key identifies a class of repeated event. It must not carry per-event
// detail (a request's entity key, a byte offset): every distinct Key is a
// separate table entry and a separate stream of log lines.
type Key struct {
	// Endpoint is where the event happened (an HTTP endpoint, a method).
	Endpoint string
	// Status is the outcome code (an HTTP status).
	Status int
	// Kind is the error class (a metric label such as "unavailable").
	Kind string
}

// OverflowKey is the key new events are counted under while the table is
// full of keys that are not idle.
var OverflowKey = Key{Endpoint: "*", Kind: "lograte_overflow"}

// Options configures a Limiter. The zero value is valid: every field has a
// default.
type Options struct {
	// Interval is the least time between two lines of one key. Default 10s.
	Interval time.Duration
	// MaxKeys bounds the keys tracked at once (OverflowKey included).
	// Default 256.
	MaxKeys int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills unset fields.
func (o *Options) EnsureDefaults() {
	if o.Interval == 0 {
		o.Interval = 10 * time.Second
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports an invalid field.
func (o *Options) Validate() error {
	if o.Interval < 0 {
		return fmt.Errorf("%w: Interval %v is negative", ErrOptions, o.Interval)
	}
	if o.MaxKeys < 2 {
		return fmt.Errorf("%w: MaxKeys %d is below 2 (one key and the overflow key)", ErrOptions, o.MaxKeys)
	}
	return nil
}

// entry is one key's state: when its last line was allowed (Unix
// nanoseconds) and how many occurrences have been suppressed since.
type entry struct {
	last       int64
	suppressed int64
}

// Limiter rate-limits log lines per Key. Create it with New.
type Limiter struct {
	interval int64
	maxKeys  int
	now      func() time.Time

	mu   sync.Mutex
	keys map[Key]entry
}

// New returns a Limiter; opts nil means defaults.
func New(opts *Options) (*Limiter, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Limiter{
		interval: int64(o.Interval),
		maxKeys:  o.MaxKeys,
		now:      o.Now,
		keys:     make(map[Key]entry, min(o.MaxKeys, 64)),
	}, nil
}

// Allow records one occurrence of k and reports whether to log it. When ok
// is true, suppressed is the number of occurrences of k (or, for a key
// counted under OverflowKey, of the overflow) not logged since its previous
// line; the caller should include it in the line (e.g. "suppressed", n).
// On a nil Limiter Allow always returns true, 0.
func (l *Limiter) Allow(k Key) (ok bool, suppressed int64) {
	if l == nil {
		return true, 0
	}
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, found := l.keys[k]
	if !found {
		if len(l.keys) >= l.maxKeys-1 && k != OverflowKey {
			l.evictIdle(now)
		}
		if len(l.keys) >= l.maxKeys-1 && k != OverflowKey {
			k = OverflowKey
			e, found = l.keys[k]
		}
		if !found {
			l.keys[k] = entry{last: now}
			return true, 0
		}
	}
	if now-e.last >= l.interval {
		l.keys[k] = entry{last: now}
		return true, e.suppressed
	}
	e.suppressed++
	l.keys[k] = e
	return false, 0
}

// evictIdle drops keys whose last line is at least an interval old, moving
// their pending counts to the overflow key. l.mu is held.
func (l *Limiter) evictIdle(now int64) {
	var moved int64
	for k, e := range l.keys {
		if k != OverflowKey && now-e.last >= l.interval {
			moved += e.suppressed
			delete(l.keys, k)
		}
	}
	if moved == 0 {
		return
	}
	o, found := l.keys[OverflowKey]
	if !found {
		// The overflow entry starts as if its line was just logged, so that
		// the moved count is reported by its next line, not lost.
		o.last = now
	}
	o.suppressed += moved
	l.keys[OverflowKey] = o
}

// Flush calls fn for every key with suppressed occurrences not yet
// reported, resets their counts, and returns the total. Call it at
// shutdown (or periodically) so that the tail of a burst is reported too.
func (l *Limiter) Flush(fn func(k Key, suppressed int64)) int64 {
	if l == nil {
		return 0
	}
	now := l.now().UnixNano()
	l.mu.Lock()
	type pending struct {
		k Key
		n int64
	}
	var out []pending
	for k, e := range l.keys {
		if e.suppressed > 0 {
			out = append(out, pending{k, e.suppressed})
			l.keys[k] = entry{last: now}
		}
	}
	l.mu.Unlock()
	var total int64
	for _, p := range out {
		total += p.n
		if fn != nil {
			fn(p.k, p.n)
		}
	}
	return total
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
