package drift

import "time"

// Event is a state change of a subject or one of its features, raised
// when a window closes and the change enters or leaves warn or alert
// (ok ↔ insufficient_data raises none).
type Event struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	// Feature is "" for the subject as a whole.
	Feature string `json:"feature,omitempty"`
	From    State  `json:"from"`
	To      State  `json:"to"`
	// WindowStart and At bound the window that closed.
	WindowStart time.Time `json:"window_start"`
	At          time.Time `json:"at"`
	// Summary says why: the metrics past their levels for a feature
	// ("ks 0.1 ≥ alert 0.08; psi 0.06 ≥ …"), the features in warn or alert
	// for a subject.
	Summary string `json:"summary"`
}

// Listener acts on state changes (page someone, roll a model back).
//
// SkewStateChanged is called on the monitor's own goroutine, never on a
// request's and never under the monitor's locks, one event at a time in
// the order they were raised; it may call Snapshot. A slow listener delays
// the events after it and the background closing of windows (Snapshot
// still closes them), but never an observation.
type Listener interface {
	SkewStateChanged(Event)
}

// ListenerFunc adapts a function to Listener.
type ListenerFunc func(Event)

// SkewStateChanged calls f(e).
func (f ListenerFunc) SkewStateChanged(e Event) { f(e) }

// Subscribe adds a listener; the returned function removes it (calling it
// again does nothing).
func (m *Monitor) Subscribe(l Listener) (unsubscribe func()) {
	m.mu.Lock()
	k := m.nextL
	m.nextL++
	m.listeners[k] = l
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.listeners, k)
		m.mu.Unlock()
	}
}
