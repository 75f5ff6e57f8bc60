package drift

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Type is a feature's served value type.
type Type string

// The value types a feature can have. Numeric baselines suit Float64 and
// Int64; categorical baselines suit String, Bool and Int64.
const (
	Float64 Type = "float64"
	Int64   Type = "int64"
	String  Type = "string"
	Bool    Type = "bool"
)

// Subject kinds.
const (
	// KindFeatureService: the features a feature service serves.
	KindFeatureService = "feature_service"
	// KindModelVersion: a model version's inputs and predictions.
	KindModelVersion = "model_version"
)

// Options configures a Monitor. Zero fields take their defaults.
type Options struct {
	// Window is the tumbling window's length; windows are aligned to
	// multiples of it since the Unix epoch. Default 5 minutes.
	Window time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Thresholds apply to every feature that does not override them; zero
	// fields take the defaults of Thresholds.
	Thresholds Thresholds
	// CheckInterval is how often the monitor's goroutine checks the clock
	// to close windows (Snapshot closes them too). Observations do not
	// read the clock, so a value served up to CheckInterval after a
	// window's end can count in that window. Default: a tenth of Window,
	// at most one second.
	CheckInterval time.Duration
	// Stripes is how many copies of each counter concurrent observers
	// spread over (rounded up to a power of two). Default: GOMAXPROCS
	// rounded up to a power of two, at most 16.
	Stripes int
}

// EnsureDefaults returns o with unset fields set to their defaults.
func (o *Options) EnsureDefaults() *Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Window == 0 {
		c.Window = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Thresholds = c.Thresholds.EnsureDefaults()
	if c.CheckInterval == 0 {
		c.CheckInterval = min(c.Window/10, time.Second)
	}
	if c.Stripes == 0 {
		c.Stripes = defaultStripes()
	}
	n := 1
	for n < c.Stripes {
		n <<= 1
	}
	c.Stripes = n
	return &c
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.Window < time.Millisecond {
		return fmt.Errorf("%w: window %v is under a millisecond", ErrInvalidOptions, o.Window)
	}
	if o.CheckInterval <= 0 {
		return fmt.Errorf("%w: check interval %v is not positive", ErrInvalidOptions, o.CheckInterval)
	}
	if o.Stripes < 1 || o.Stripes > 1024 {
		return fmt.Errorf("%w: stripes %d outside [1, 1024]", ErrInvalidOptions, o.Stripes)
	}
	if err := o.Thresholds.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return nil
}

// SubjectSpec describes a subject to register.
type SubjectSpec struct {
	// Kind is KindFeatureService or KindModelVersion.
	Kind string
	// Name identifies the subject within its kind ("driver_ranking",
	// "completion/v3").
	Name string
	// BaselineSource says where the baselines came from (a training set,
	// a profile file); the report shows it as it is.
	BaselineSource string
	Features       []FeatureSpec
}

// FeatureSpec describes one monitored feature of a subject.
type FeatureSpec struct {
	// Name is the feature's name, such as "driver_hourly__conv_rate" or
	// "prediction".
	Name     string
	Type     Type
	Baseline Baseline
	// Thresholds override the monitor's in their non-zero fields.
	Thresholds Thresholds
}

// Monitor compares served values with baselines over tumbling windows.
// Observations go through *Feature handles: lock-free, clock-free and
// allocation-free. Windows close on the monitor's own goroutine, checked
// every CheckInterval, and on Snapshot; the goroutine also delivers
// events. Close stops it.
type Monitor struct {
	opts   Options
	window int64 // nanoseconds

	curIdx atomic.Int64 // the window index observations count into

	mu        sync.Mutex
	subjects  []*Subject
	evaluated int64 // the last completed window index evaluated
	queue     []Event
	alerts    map[alertKey]int64
	listeners map[int]Listener
	nextL     int
	closed    bool

	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

type alertKey struct{ kind, subject, feature string }

// NewMonitor returns a monitor with no subjects, and starts its goroutine.
func NewMonitor(opts *Options) (*Monitor, error) {
	o := opts.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	m := &Monitor{
		opts:      *o,
		window:    int64(o.Window),
		alerts:    make(map[alertKey]int64),
		listeners: make(map[int]Listener),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	idx := m.index(o.Now())
	m.curIdx.Store(idx)
	m.evaluated = idx - 1
	m.wg.Add(1)
	go m.loop()
	return m, nil
}

// Close stops the monitor's goroutine; events not yet delivered are
// dropped. Observations and Snapshot keep working.
func (m *Monitor) Close() error {
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		close(m.done)
		m.wg.Wait()
	})
	return nil
}

// Window returns the window length in force.
func (m *Monitor) Window() time.Duration { return m.opts.Window }

// index returns the window index of t: floor(t / Window).
func (m *Monitor) index(t time.Time) int64 {
	ns := t.UnixNano()
	q := ns / m.window
	if ns%m.window < 0 {
		q--
	}
	return q
}

func (m *Monitor) start(idx int64) time.Time { return time.Unix(0, idx*m.window).UTC() }

// Subject is a registered subject. Its methods are safe for concurrent use.
type Subject struct {
	kind, name, source string
	registered         time.Time
	features           []*Feature
	state              State // last evaluated, under Monitor.mu
}

// Kind returns the subject's kind.
func (s *Subject) Kind() string { return s.kind }

// Name returns the subject's name.
func (s *Subject) Name() string { return s.name }

// Features returns the subject's features in registration order; hold on
// to them for the hot path.
func (s *Subject) Features() []*Feature { return s.features }

// Feature returns the feature named name, or nil. It is a linear search:
// call it once, at wiring time, not per request.
func (s *Subject) Feature(name string) *Feature {
	for _, f := range s.features {
		if f.name == name {
			return f
		}
	}
	return nil
}

// Feature is the hot-path handle of one monitored feature. Its Observe
// methods are safe for concurrent use, take no lock, read no clock and
// allocate nothing.
type Feature struct {
	m    *Monitor
	subj *Subject
	name string
	typ  Type
	base Baseline
	th   Thresholds
	bd   *binding

	cur   atomic.Pointer[counters]
	pool  [3]*counters // cur, last and a spare, reused
	last  *counters    // the last completed window; nil before the first
	since Counts       // folded windows before last, under Monitor.mu
	state State        // last evaluated, under Monitor.mu
}

// Name returns the feature's name.
func (f *Feature) Name() string { return f.name }

// Register adds a subject and returns its handle. Its features' baselines
// are validated and bound here, so that observing needs no lookups.
func (m *Monitor) Register(spec SubjectSpec) (*Subject, error) {
	if spec.Kind != KindFeatureService && spec.Kind != KindModelVersion {
		return nil, fmt.Errorf("%w: kind %q, want %q or %q", ErrInvalidSubject, spec.Kind, KindFeatureService, KindModelVersion)
	}
	if spec.Name == "" {
		return nil, fmt.Errorf("%w: %s with an empty name", ErrInvalidSubject, spec.Kind)
	}
	s := &Subject{kind: spec.Kind, name: spec.Name, source: spec.BaselineSource, registered: m.opts.Now().UTC(), state: InsufficientData}
	seen := make(map[string]bool, len(spec.Features))
	for i, fs := range spec.Features {
		where := fmt.Sprintf("%s %q feature[%d] %q", spec.Kind, spec.Name, i, fs.Name)
		if fs.Name == "" {
			return nil, fmt.Errorf("%w: %s: empty name", ErrInvalidSubject, where)
		}
		if seen[fs.Name] {
			return nil, fmt.Errorf("%w: %s: name repeats", ErrInvalidSubject, where)
		}
		seen[fs.Name] = true
		if err := fs.Baseline.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidSubject, where, err)
		}
		switch {
		case fs.Baseline.Numeric != nil && fs.Type != Float64 && fs.Type != Int64:
			return nil, fmt.Errorf("%w: %s: a numeric baseline for type %q (want float64 or int64)", ErrInvalidSubject, where, fs.Type)
		case fs.Baseline.Categorical != nil && fs.Type != String && fs.Type != Bool && fs.Type != Int64:
			return nil, fmt.Errorf("%w: %s: a categorical baseline for type %q (want string, bool or int64)", ErrInvalidSubject, where, fs.Type)
		}
		th := m.opts.Thresholds.Merge(fs.Thresholds)
		if err := th.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidSubject, where, err)
		}
		bd, err := newBinding(fs.Baseline)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidSubject, where, err)
		}
		f := &Feature{m: m, subj: s, name: fs.Name, typ: fs.Type, base: fs.Baseline, th: th, bd: bd, state: InsufficientData}
		for k := range f.pool {
			f.pool[k] = newCounters(bd, m.opts.Stripes)
		}
		f.since.Bins = make([]int64, bd.nbins)
		s.features = append(s.features, f)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	for _, o := range m.subjects {
		if o.kind == s.kind && o.name == s.name {
			return nil, fmt.Errorf("%w: %s %q is already registered", ErrInvalidSubject, s.kind, s.name)
		}
	}
	idx := m.curIdx.Load()
	for _, f := range s.features {
		f.pool[0].idx = idx
		f.cur.Store(f.pool[0])
	}
	m.subjects = append(m.subjects, s)
	return s, nil
}

// Unregister removes a subject; its handles keep accepting observations,
// which count nowhere. It reports whether the subject was registered.
func (m *Monitor) Unregister(kind, name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.subjects {
		if s.kind == kind && s.name == name {
			m.subjects = append(m.subjects[:i:i], m.subjects[i+1:]...)
			return true
		}
	}
	return false
}

// counters returns the counters of the current window. Observing reads no
// clock (time.Now costs as much as the rest of an observation): windows
// close on the monitor's goroutine every CheckInterval and on Snapshot, so
// a value observed up to CheckInterval after a window's end may count in
// that window (at most 1s in 5 minutes, 0.3%, with the defaults).
func (f *Feature) counters() *counters { return f.cur.Load() }

// ObserveFloat counts a served number (NaN separately). On a categorical
// feature an integral number counts as that integer's category.
func (f *Feature) ObserveFloat(v float64) { f.counters().add(f.bd.slotFloat(v)) }

// ObserveInt counts a served integer: a number on a numeric feature, the
// category keyed by its decimal string on a categorical one.
func (f *Feature) ObserveInt(v int64) { f.counters().add(f.bd.slotInt(v)) }

// ObserveString counts a served category (a numeric feature parses it;
// text that is no number counts as NaN).
func (f *Feature) ObserveString(v string) { f.counters().add(f.bd.slotString(v)) }

// ObserveBytes is ObserveString without a conversion; b is not retained.
func (f *Feature) ObserveBytes(b []byte) { f.counters().add(f.bd.slotBytes(b)) }

// ObserveBool counts the category "true" or "false" (1 or 0 on a numeric
// feature).
func (f *Feature) ObserveBool(v bool) { f.counters().add(f.bd.slotBool(v)) }

// ObserveStatus counts a served null, NOT_FOUND or OUTSIDE_MAX_AGE.
func (f *Feature) ObserveStatus(s Status) { f.counters().add(f.bd.slotStatus(s)) }

// rotate moves every feature to window idx.
func (m *Monitor) rotate(idx int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if idx <= m.curIdx.Load() {
		return
	}
	for _, s := range m.subjects {
		for _, f := range s.features {
			f.rotate(idx)
		}
	}
	m.curIdx.Store(idx)
}

// rotate makes window idx current, under Monitor.mu. The last completed
// window is folded into since; the window that was current becomes the
// last completed one if it is idx-1, and otherwise is folded too (the
// last completed window then saw nothing). A late observer that loaded
// the old counters before the swap still counts into them: the last
// window stays live until the next rotation folds it.
func (f *Feature) rotate(idx int64) {
	old := f.cur.Load()
	if old.idx >= idx {
		return
	}
	if f.last != nil {
		f.last.read(&f.since)
	}
	if old.idx != idx-1 {
		old.read(&f.since)
		old.reset()
		old.idx = idx - 1
	}
	f.last = old
	var next *counters
	for _, c := range f.pool {
		if c != old {
			next = c
			break
		}
	}
	next.reset()
	next.idx = idx
	f.cur.Store(next)
}

// advance closes windows up to now, evaluates the last completed window
// once, and queues the events it raises for the monitor's goroutine.
func (m *Monitor) advance(now time.Time) {
	if idx := m.index(now); idx > m.curIdx.Load() {
		m.rotate(idx)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	done := m.curIdx.Load() - 1
	if done <= m.evaluated {
		return
	}
	m.evaluated = done
	start, end := m.start(done), m.start(done+1)
	queued := len(m.queue)
	for _, s := range m.subjects {
		subj := OK
		var worst []string
		for _, f := range s.features {
			c := Counts{Bins: make([]int64, f.bd.nbins)}
			if f.last != nil && f.last.idx == done {
				f.last.read(&c)
			}
			r := Compare(f.base, &c, f.th)
			subj = Worst(subj, r.State)
			if r.State >= Warn {
				worst = append(worst, fmt.Sprintf("%s: %s", f.name, r.State))
			}
			m.transition(s, f.name, &f.state, r.State, start, end, r.Reasons)
		}
		if len(s.features) == 0 {
			subj = InsufficientData
		}
		m.transition(s, "", &s.state, subj, start, end, worst)
	}
	if len(m.queue) > queued {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

// transition records a state change and queues an event when the change
// enters or leaves warn or alert.
func (m *Monitor) transition(s *Subject, feature string, st *State, to State, start, end time.Time, reasons []string) {
	from := *st
	*st = to
	if from == to || (from < Warn && to < Warn) {
		return
	}
	if to == Alert {
		m.alerts[alertKey{s.kind, s.name, feature}]++
	}
	m.queue = append(m.queue, Event{
		Kind: s.kind, Subject: s.name, Feature: feature,
		From: from, To: to, WindowStart: start, At: end,
		Summary: strings.Join(reasons, "; "),
	})
}

// loop is the monitor's goroutine: it closes windows every CheckInterval
// and delivers queued events to the listeners.
func (m *Monitor) loop() {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.advance(m.opts.Now())
		case <-m.wake:
		}
		m.deliver()
	}
}

func (m *Monitor) deliver() {
	m.mu.Lock()
	q := m.queue
	m.queue = nil
	ls := make([]Listener, 0, len(m.listeners))
	for k := 0; k < m.nextL; k++ {
		if l, ok := m.listeners[k]; ok {
			ls = append(ls, l)
		}
	}
	m.mu.Unlock()
	for _, e := range q {
		for _, l := range ls {
			l.SkewStateChanged(e)
		}
	}
}
