package drift

// Snapshot closes windows up to now and returns the report of every
// subject: per feature the last completed window (whose state counts),
// the current partial window and everything since registration.
func (m *Monitor) Snapshot() Report {
	now := m.opts.Now()
	m.advance(now)

	type featureCounts struct {
		f                *Feature
		last, cur, since Counts
		lastIdx, curIdx  int64
	}
	type subjectCounts struct {
		s  *Subject
		fs []featureCounts
	}
	// Copy the counts under the lock, compare outside it.
	m.mu.Lock()
	subjects := make([]subjectCounts, 0, len(m.subjects))
	idx := m.curIdx.Load()
	for _, s := range m.subjects {
		sc := subjectCounts{s: s, fs: make([]featureCounts, 0, len(s.features))}
		for _, f := range s.features {
			fc := featureCounts{f: f, curIdx: idx, lastIdx: idx - 1}
			nb := f.bd.nbins
			fc.last.Bins = make([]int64, nb)
			fc.cur.Bins = make([]int64, nb)
			fc.since.Bins = append([]int64(nil), f.since.Bins...)
			fc.since.Nulls, fc.since.NaN = f.since.Nulls, f.since.NaN
			fc.since.NotFound, fc.since.OutsideMaxAge = f.since.NotFound, f.since.OutsideMaxAge
			if f.last != nil && f.last.idx == idx-1 {
				f.last.read(&fc.last)
			} else if f.last != nil {
				f.last.read(&fc.since)
			}
			f.cur.Load().read(&fc.cur)
			fc.since.add(&fc.last)
			fc.since.add(&fc.cur)
			sc.fs = append(sc.fs, fc)
		}
		subjects = append(subjects, sc)
	}
	m.mu.Unlock()

	r := Report{
		GeneratedAt:   now.UTC(),
		WindowSeconds: m.opts.Window.Seconds(),
		State:         OK,
		Subjects:      make([]SubjectReport, 0, len(subjects)),
	}
	for _, sc := range subjects {
		s := sc.s
		sr := SubjectReport{
			Kind: s.kind, Name: s.name, BaselineSource: s.source, RegisteredAt: s.registered,
			State: OK, Features: make([]FeatureReport, 0, len(sc.fs)),
		}
		if len(sc.fs) == 0 {
			sr.State = InsufficientData
		}
		for i := range sc.fs {
			fc := &sc.fs[i]
			f := fc.f
			fr := FeatureReport{Name: f.name, Type: f.typ, Thresholds: f.th}
			fr.Window = Compare(f.base, &fc.last, f.th)
			fr.Window.Start, fr.Window.End = m.start(fc.lastIdx), m.start(fc.lastIdx+1)
			fr.Current = Compare(f.base, &fc.cur, f.th)
			fr.Current.Start, fr.Current.End = m.start(fc.curIdx), now.UTC()
			fr.SinceStart = Compare(f.base, &fc.since, f.th)
			fr.SinceStart.Start, fr.SinceStart.End = s.registered, now.UTC()
			fr.State = fr.Window.State
			sr.State = Worst(sr.State, fr.State)
			sr.Features = append(sr.Features, fr)
		}
		r.State = Worst(r.State, sr.State)
		r.Subjects = append(r.Subjects, sr)
	}
	return r
}

// alertCounts returns how many times each subject and feature entered
// alert, for the collector.
func (m *Monitor) alertCounts() map[alertKey]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[alertKey]int64, len(m.alerts))
	for k, v := range m.alerts {
		out[k] = v
	}
	return out
}
