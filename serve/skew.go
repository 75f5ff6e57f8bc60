package serve

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
	"github.com/fstore/fstore/skewcheck"
	"github.com/fstore/fstore/skewcheck/drift"
	"github.com/fstore/fstore/skewcheck/featurelog"
)

// SkewConfig configures feature logging and drift monitoring in the
// server. Which services log and which are monitored is said by their
// definitions (logging, monitoring); this is how the server does it.
type SkewConfig struct {
	// LogDir is where a service whose logging names no destination logs.
	// Default <data dir>/feature_logs.
	LogDir string
	// Log tunes every feature logger (queue bound, rotation); its Dir is
	// set per destination.
	Log featurelog.Options
	// WindowRows is about how many served rows of a feature service (or
	// model version) the drift monitors observe per window: every row
	// while a window has seen fewer, then a random fraction of rows that
	// keeps the window near WindowRows, estimated from the window's
	// traffic so far. A verdict needs MinSamples values (1,000 by
	// default), not millions: sampling costs no power worth having and
	// keeps the request path's cost flat at any traffic. Default 20,000;
	// negative observes every row.
	WindowRows int64
	// Now is the monitors' clock (window boundaries). Default time.Now:
	// windows follow the wall clock even when requests are evaluated at a
	// fixed time (Config.Now).
	Now func() time.Time
	// Disabled turns logging and monitoring off whatever the definitions
	// say.
	Disabled bool
	// Listeners learn when a feature service, a model version's
	// predictions or one of their features enters or leaves warn or
	// alert, at the close of the window that decided it, on a monitor's
	// goroutine (never a request's); a listener must not block for long.
	Listeners []drift.Listener
}

func (c *SkewConfig) ensureDefaults(dataDir string) {
	if c.LogDir == "" {
		c.LogDir = filepath.Join(dataDir, "feature_logs")
	}
	if c.WindowRows == 0 {
		c.WindowRows = 20_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// skewer owns the server's feature loggers and drift monitors. Loggers are
// kept by directory and monitors by window length for the server's life;
// what a registry version logs and monitors is compiled into the catalog
// (catalog.skew) when the version loads.
type skewer struct {
	cfg   SkewConfig
	store *featurestore.Store
	log   *slog.Logger

	mu       sync.Mutex
	loggers  map[string]*featurelog.Logger
	monitors map[time.Duration]*drift.Monitor
	// subjects are the registered subjects with the baseline source they
	// were registered with, so that a reload keeps a subject's windows
	// when nothing about it changed.
	subjects map[subjectKey]*registered
	// listeners learn of every monitor's state changes, on monitors made
	// before and after they subscribed.
	listeners []*listenerEntry
	closed    bool
	// wallClock says the monitors' clock is time.Now, so a request's
	// own start time serves (no second clock read).
	wallClock bool
	// seq numbers request ids; prefix makes them unique across processes.
	seq    atomic.Uint64
	prefix string
}

type subjectKey struct{ kind, name string }

type registered struct {
	sig  string
	mon  *drift.Monitor
	subj *drift.Subject
}

func newSkewer(cfg SkewConfig, store *featurestore.Store, log *slog.Logger) *skewer {
	wall := cfg.Now == nil
	cfg.ensureDefaults(store.Dir())
	s := &skewer{
		cfg: cfg, store: store, log: log,
		loggers:  map[string]*featurelog.Logger{},
		monitors: map[time.Duration]*drift.Monitor{},
		subjects: map[subjectKey]*registered{},
		prefix:   strconv.FormatUint(rand.Uint64()&0xffffffffffff, 36) + "-",

		wallClock: wall,
	}
	for _, l := range cfg.Listeners {
		s.subscribe(l)
	}
	return s
}

// close flushes and closes every logger and monitor.
func (s *skewer) close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for _, l := range s.loggers {
		errs = append(errs, l.Close(ctx))
	}
	for _, m := range s.monitors {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// logger returns the logger writing under dir, opening it once.
func (s *skewer) logger(dir string) (*featurelog.Logger, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.loggers[dir]; l != nil {
		return l, nil
	}
	if s.closed {
		return nil, errors.New("serve: the server is stopping")
	}
	opts := s.cfg.Log
	opts.Dir = dir
	if opts.Logger == nil {
		opts.Logger = s.log
	}
	l, err := featurelog.Open(opts)
	if err != nil {
		return nil, err
	}
	s.loggers[dir] = l
	return l, nil
}

// monitor returns the monitor with window w (0: the default), creating it
// once.
func (s *skewer) monitor(w time.Duration) (*drift.Monitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.monitors[w]; m != nil {
		return m, nil
	}
	m, err := drift.NewMonitor(&drift.Options{Window: w, Now: s.cfg.Now})
	if err != nil {
		return nil, err
	}
	s.monitors[w] = m
	m.Subscribe(drift.ListenerFunc(s.logEvent))
	for _, e := range s.listeners {
		e.unsub = append(e.unsub, m.Subscribe(e.l))
	}
	return m, nil
}

type listenerEntry struct {
	l     drift.Listener
	unsub []func()
}

// subscribe makes l learn when a feature service, a model version's
// predictions or one of their features enters or leaves warn or alert
// (at a window's close, on a monitor's goroutine, never a request's). It
// returns the function that unsubscribes l.
func (s *skewer) subscribe(l drift.Listener) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &listenerEntry{l: l}
	for _, m := range s.monitors {
		e.unsub = append(e.unsub, m.Subscribe(l))
	}
	s.listeners = append(s.listeners, e)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, o := range s.listeners {
			if o == e {
				s.listeners = append(s.listeners[:i:i], s.listeners[i+1:]...)
				break
			}
		}
		for _, u := range e.unsub {
			u()
		}
	}
}

// logEvent logs a state change: an alert as a warning, the rest as info.
func (s *skewer) logEvent(e drift.Event) {
	level := slog.LevelInfo
	if e.To == drift.Alert {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "skew state changed", "kind", e.Kind, "subject", e.Subject, "feature", e.Feature,
		"from", e.From.String(), "to", e.To.String(), "window_start", e.WindowStart, "summary", e.Summary)
}

// register registers spec in m unless the same subject is registered with
// the same signature (then its windows and history are kept).
func (s *skewer) register(m *drift.Monitor, spec drift.SubjectSpec, sig string) (*drift.Subject, error) {
	k := subjectKey{spec.Kind, spec.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.subjects[k]; r != nil {
		if r.sig == sig && r.mon == m {
			return r.subj, nil
		}
		r.mon.Unregister(k.kind, k.name)
		delete(s.subjects, k)
	}
	subj, err := m.Register(spec)
	if err != nil {
		return nil, err
	}
	s.subjects[k] = &registered{sig: sig, mon: m, subj: subj}
	return subj, nil
}

// snapshot merges the reports of every monitor, subjects sorted by kind
// and name.
func (s *skewer) snapshot() drift.Report {
	s.mu.Lock()
	ms := make([]*drift.Monitor, 0, len(s.monitors))
	for _, m := range s.monitors {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	return skewcheck.MergeReports(s.cfg.Now(), ms...)
}

// requestID returns a new request id, unique across processes.
func (s *skewer) requestID(dst []byte) []byte {
	dst = append(dst, s.prefix...)
	return strconv.AppendUint(dst, s.seq.Add(1), 36)
}

// skewPlan is what one selection of one catalog logs and monitors: a
// feature service's features, or a model version's inputs. Built when the
// catalog loads (services) or on a model's first request on a catalog.
type skewPlan struct {
	service string
	// Logging: nil logger means off.
	logger *featurelog.Logger
	schema *featurelog.Schema
	rate   float64
	// sample is rate's decision, its threshold computed once.
	sample featurelog.Sampler
	// keys and ctx are the input columns logged, by name, in schema order.
	keys, ctx []string
	// feats[i] is the monitor handle of the selection's feature i; nil
	// when the service is not monitored (or the feature has no baseline).
	feats     []*drift.Feature
	monitored bool
	// pred is the model version's prediction handle (models only).
	pred *drift.Feature
	// sampler picks the rows the monitors observe.
	sampler rowSampler
	// model columns (models only).
	model   string
	version int64
}

// compileSkew builds the catalog's skew plans for every feature service
// that logs or is monitored. Problems are logged and leave the service
// served without them: a missing baseline must not take features offline.
func (s *skewer) compileSkew(c *catalog) {
	c.skew = map[string]*skewPlan{}
	if s == nil || s.cfg.Disabled {
		return
	}
	for _, svc := range c.ix.Defs.FeatureServices {
		sel := c.services[svc.Name]
		if sel == nil || (svc.Logging.SampleRate == 0 && !svc.Monitoring.Enabled) {
			continue
		}
		p, err := s.plan(c, svc, sel, nil)
		if err != nil {
			s.log.Warn("feature service served without skew checks", "service", svc.Name, "registry_version", c.version, "err", err)
			continue
		}
		c.skew[svc.Name] = p
	}
}

// plan builds the skew plan of sel, a selection of service svc on catalog
// c; mv is the model version whose inputs sel is, or nil.
func (s *skewer) plan(c *catalog, svc *def.FeatureService, sel *selection, mv *fstorev1.ModelVersion) (*skewPlan, error) {
	p := &skewPlan{service: svc.Name, rate: svc.Logging.SampleRate, sample: featurelog.NewSampler(svc.Logging.SampleRate)}
	var errs []error
	if p.rate > 0 {
		if err := s.planLogging(c, svc, sel, mv, p); err != nil {
			errs = append(errs, fmt.Errorf("logging: %w", err))
			p.logger = nil
		}
	}
	if svc.Monitoring.Enabled {
		if err := s.planMonitoring(c, svc, sel, mv, p); err != nil {
			errs = append(errs, fmt.Errorf("monitoring: %w", err))
		}
	}
	if p.logger == nil && !p.monitored && p.pred == nil {
		return nil, errors.Join(errs...)
	}
	for _, err := range errs {
		s.log.Warn("skew checks incomplete", "service", svc.Name, "registry_version", c.version, "err", err)
	}
	return p, nil
}

func (s *skewer) planLogging(c *catalog, svc *def.FeatureService, sel *selection, mv *fstorev1.ModelVersion, p *skewPlan) error {
	dir := svc.Logging.Destination
	if dir == "" {
		dir = s.cfg.LogDir
	}
	sc := featurelog.Schema{Service: svc.Name, RegistryVersion: c.version, Model: mv != nil}
	seen := map[string]bool{}
	for _, sv := range sel.views {
		for k, name := range sv.ov.KeyNames {
			if !seen[name] {
				seen[name] = true
				sc.Keys = append(sc.Keys, def.Field{Name: name, Type: sv.ov.KeyTypes[k]})
				p.keys = append(p.keys, name)
			}
		}
	}
	for _, sod := range sel.ods {
		for _, f := range sod.reqFields {
			if !seen[f.Name] {
				seen[f.Name] = true
				sc.Context = append(sc.Context, def.Field{Name: f.Name, Type: f.Type})
				p.ctx = append(p.ctx, f.Name)
			}
		}
	}
	for _, f := range sel.features {
		sc.Features = append(sc.Features, def.Field{Name: f.fullName, Type: featureType(&f)})
	}
	schema, err := featurelog.NewSchema(sc)
	if err != nil {
		return err
	}
	l, err := s.logger(dir)
	if err != nil {
		return err
	}
	p.schema, p.logger = schema, l
	if mv != nil {
		p.model, p.version = mv.GetModel(), int64(mv.GetVersion())
	}
	return nil
}

// featureType is the value type of a selected feature.
func featureType(f *feature) def.ValueType {
	if f.od != nil {
		return f.od.plan.Outputs[f.out].Type
	}
	return f.view.ov.Outputs[f.out].Type
}

func (s *skewer) planMonitoring(c *catalog, svc *def.FeatureService, sel *selection, mv *fstorev1.ModelVersion, p *skewPlan) error {
	m, err := s.monitor(svc.Monitoring.Window)
	if err != nil {
		return err
	}
	p.sampler.init(m.Window(), s.cfg.WindowRows)
	var errs []error
	// The service's subject: its features against the training set of
	// the newest model version on the service, or the service's baseline.
	base, source, err := s.featureBaseline(c, svc)
	if err != nil {
		errs = append(errs, err)
	} else {
		spec := drift.SubjectSpec{Kind: drift.KindFeatureService, Name: svc.Name, BaselineSource: source}
		svcSel := c.services[svc.Name]
		for _, f := range svcSel.features {
			fs, err := skewcheck.FeatureSpec(base, f.fullName, featureType(&f), svc.Monitoring.Thresholds, svc.Monitoring.FeatureThresholds[f.fullName])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			spec.Features = append(spec.Features, fs)
		}
		subj, err := s.register(m, spec, fmt.Sprintf("%s|%d", source, c.version))
		if err != nil {
			errs = append(errs, err)
		} else {
			p.feats = make([]*drift.Feature, len(sel.features))
			for i, f := range sel.features {
				if h := subj.Feature(f.fullName); h != nil {
					p.feats[i] = h
					p.monitored = true
				}
			}
		}
	}
	if mv != nil {
		if err := s.planPredictions(m, mv, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// planPredictions registers a model version's predictions against the
// baseline stored with the version.
func (s *skewer) planPredictions(m *drift.Monitor, mv *fstorev1.ModelVersion, p *skewPlan) error {
	rel := mv.GetPredictionBaselinePath()
	if rel == "" {
		return fmt.Errorf("model %s v%d has no prediction baseline (retrain with fstore train to record one)", mv.GetModel(), mv.GetVersion())
	}
	path := filepath.Join(s.store.Dir(), rel)
	prof, err := skewcheck.ReadProfile(path)
	if err != nil {
		return err
	}
	fs, err := skewcheck.FeatureSpec(prof, "prediction", def.Double, def.DriftThresholds{}, def.DriftThresholds{})
	if err != nil {
		return err
	}
	name := mv.GetModel() + "/v" + strconv.FormatUint(uint64(mv.GetVersion()), 10)
	subj, err := s.register(m, drift.SubjectSpec{Kind: drift.KindModelVersion, Name: name, BaselineSource: rel, Features: []drift.FeatureSpec{fs}}, rel)
	if err != nil {
		return err
	}
	p.pred = subj.Feature("prediction")
	return nil
}

// featureBaseline finds the baseline of a service's features: the
// training-set profile stored with the newest version of a model on the
// service, else the service's monitoring.baseline file.
func (s *skewer) featureBaseline(c *catalog, svc *def.FeatureService) (*skewcheck.Profile, string, error) {
	var best *fstorev1.ModelVersion
	for _, md := range c.ix.Defs.Models {
		if md.FeatureService != svc.Name {
			continue
		}
		vs, err := s.store.ModelVersions(md.Name)
		if err != nil {
			return nil, "", err
		}
		for _, v := range vs {
			if v.GetFeatureBaselinePath() == "" {
				continue
			}
			if best == nil || v.GetCreatedAt().AsTime().After(best.GetCreatedAt().AsTime()) {
				best = v
			}
		}
	}
	if best != nil {
		rel := best.GetFeatureBaselinePath()
		prof, err := skewcheck.ReadProfile(filepath.Join(s.store.Dir(), rel))
		if err != nil {
			return nil, "", err
		}
		src := fmt.Sprintf("training set of model %s v%d (%s)", best.GetModel(), best.GetVersion(), best.GetTrainingDataset())
		return prof, src, nil
	}
	if path := svc.Monitoring.Baseline; path != "" {
		prof, err := skewcheck.ReadProfile(path)
		if err != nil {
			return nil, "", err
		}
		return prof, path, nil
	}
	return nil, "", fmt.Errorf("no baseline: no model version on feature service %q records a training-set profile, and monitoring.baseline is unset", svc.Name)
}

// observe logs the request's sampled entities and feeds the monitors.
// It runs after the response is built, on the request's goroutine; it
// never fails the request. preds are the model's predictions (nil for a
// feature request).
// start is when the request began (the wall clock): the monitors' clock
// unless SkewConfig.Now replaces it, read once per request already.
func (s *skewer) observe(r *onlineRequest, p *skewPlan, preds []float32, start time.Time) {
	if p.monitored || p.pred != nil {
		now := start
		if !s.wallClock {
			now = s.cfg.Now()
		}
		r.skewRows = p.sampler.rows(r.skewRows[:0], now.UnixNano(), r.n)
		s.monitorRows(r, p, preds)
	}
	if p.logger != nil {
		s.logRows(r, p, preds)
	}
}

// monitorRows feeds the sampled rows (r.skewRows) to the monitors, a
// feature at a time.
func (s *skewer) monitorRows(r *onlineRequest, p *skewPlan, preds []float32) {
	rows := r.skewRows
	if len(rows) == 0 {
		return
	}
	if p.monitored {
		for k := range r.use.features {
			h := p.feats[k]
			if h == nil {
				continue
			}
			col, st, _ := r.value(&r.use.features[k])
			for _, i := range rows {
				observeValue(h, col, st, int(i))
			}
		}
	}
	if p.pred != nil && preds != nil {
		for _, i := range rows {
			p.pred.ObserveFloat(float64(preds[i]))
		}
	}
}

// rowSampler chooses which served rows the monitors observe. After a
// window with traffic, each row of the next is observed with probability
// target ÷ (the rows the previous window served), so steady traffic is
// sampled evenly across the window; in a first window (or one whose
// traffic jumped) all rows until target, then target ÷ the traffic
// estimated so far (rows × window ÷ time elapsed, the elapsed time
// floored at a twentieth of the window), which front-loads that window.
type rowSampler struct {
	window, target int64 // nanoseconds; rows (≤ 0: every row)
	idx            atomic.Int64
	seen           atomic.Int64
	prev           atomic.Int64 // rows the window before idx served; 0: unknown
}

func (s *rowSampler) init(window time.Duration, target int64) {
	s.window, s.target = int64(window), target
	if s.window <= 0 {
		s.window = int64(5 * time.Minute)
	}
}

// rows appends the indexes of the rows of an n-row request served at now
// (Unix nanoseconds) that are to be observed, in order.
func (s *rowSampler) rows(dst []int32, now int64, n int) []int32 {
	p := 1.0
	if s.target > 0 {
		idx := now / s.window
		if cur := s.idx.Load(); idx > cur && s.idx.CompareAndSwap(cur, idx) {
			prev := s.seen.Swap(0)
			if idx != cur+1 {
				prev = 0 // a window with no traffic in between
			}
			s.prev.Store(prev)
		}
		seen := s.seen.Add(int64(n))
		if prev := s.prev.Load(); prev > s.target {
			p = float64(s.target) / float64(prev)
		}
		if seen > s.target {
			elapsed := max(now-idx*s.window, s.window/20)
			p = min(p, float64(s.target)*float64(elapsed)/(float64(seen)*float64(s.window)))
		}
	}
	if p >= 1 {
		for i := 0; i < n; i++ {
			dst = append(dst, int32(i))
		}
		return dst
	}
	// Geometric gaps between observed rows: one random draw per observed
	// row, not per served row.
	lg := math.Log1p(-p)
	for i := geometricGap(lg); i < n; i += 1 + geometricGap(lg) {
		dst = append(dst, int32(i))
	}
	return dst
}

// geometricGap draws the number of rows skipped before the next observed
// one, for an observation probability p with lg = log(1-p).
func geometricGap(lg float64) int {
	g := math.Log(1-rand.Float64()) / lg
	if g >= 1<<30 {
		return 1 << 30
	}
	return int(g)
}

// observeValue feeds row i of a served feature to its monitor handle.
func observeValue(h *drift.Feature, col *compute.Column, st []featurestore.Status, i int) {
	if st != nil {
		switch st[i] {
		case featurestore.NotFound:
			h.ObserveStatus(drift.StatusNotFound)
			return
		case featurestore.OutsideMaxAge:
			h.ObserveStatus(drift.StatusOutsideMaxAge)
			return
		}
	}
	if col.Null(i) {
		h.ObserveStatus(drift.StatusNull)
		return
	}
	switch col.Type {
	case def.Double:
		h.ObserveFloat(col.F64[i])
	case def.Int64, def.Timestamp:
		h.ObserveInt(col.I64[i])
	case def.String:
		h.ObserveString(col.S[i])
	case def.Bool:
		h.ObserveBool(col.B[i])
	}
}

// logRows submits the request's sampled rows to the feature log. An
// entity is sampled by a hash of its key values, so whole entities are
// kept, the same on every replica.
func (s *skewer) logRows(r *onlineRequest, p *skewPlan, preds []float32) {
	keys := r.skewKeys[:0]
	for _, name := range p.keys {
		c := r.findInput(r.ents, name)
		if c == nil || !c.typed {
			return // cannot happen once resolved; never fail the request
		}
		keys = append(keys, &c.col)
	}
	r.skewKeys = keys
	if p.sample.None() {
		return
	}
	var b *featurelog.Batch
	for i := 0; i < r.n; i++ {
		if !sampleRow(p.sample, keys, i, &r.keyBuf) {
			continue
		}
		if b == nil {
			b = featurelog.Acquire(p.schema)
			r.idBuf = s.requestID(r.idBuf[:0])
		}
		row := b.AddRow(string(r.idBuf), r.now)
		for k, c := range keys {
			b.SetKey(row, k, c, i)
		}
		for k, name := range p.ctx {
			c := r.findInput(r.reqCtx, name)
			if c == nil {
				c = r.findInput(r.ents, name)
			}
			if c != nil && c.typed {
				b.SetContext(row, k, &c.col, i)
			}
		}
		for k := range r.use.features {
			col, st, ts := r.value(&r.use.features[k])
			var status featurestore.Status
			if st != nil {
				status = st[i]
			}
			var et int64
			if ts != nil && (st == nil || st[i] != featurestore.NotFound) {
				et = ts[i]
			}
			b.SetFeature(row, k, col, i, status, et)
		}
		if p.schema.Model && preds != nil {
			b.SetModel(row, "", p.model, p.version, float64(preds[i]))
		}
	}
	if b != nil {
		p.logger.Submit(b)
	}
}

// sampleRow reports whether row i is logged: featurelog's decision on
// appendSampleKey's key (built in *buf). One non-null INT64 join key, the
// common case, is hashed from its value with no key built; every row is
// kept at rate 1.
func sampleRow(smp featurelog.Sampler, keys []*compute.Column, i int, buf *[]byte) bool {
	switch {
	case smp.All():
		return true
	case len(keys) == 1 && keys[0].Type != def.String && !keys[0].Null(i):
		return smp.Int64(keys[0].I64[i])
	}
	*buf = appendSampleKey((*buf)[:0], keys, i)
	return smp.Key(*buf)
}

// appendSampleKey appends the sampling key of row i: each key part as
// 8 big-endian bytes (INT64) or its bytes and a 0 (STRING); a null part
// as a single 0xff. Stable across processes and versions: the log's
// sampling depends on it (documented in skewcheck/featurelog).
func appendSampleKey(dst []byte, keys []*compute.Column, i int) []byte {
	for _, c := range keys {
		switch {
		case c.Null(i):
			dst = append(dst, 0xff)
		case c.Type == def.String:
			dst = append(dst, c.S[i]...)
			dst = append(dst, 0)
		default:
			dst = binary.BigEndian.AppendUint64(dst, uint64(c.I64[i]))
		}
	}
	return dst
}

// skewModelPlan returns the skew plan of a model version's inputs on the
// request's catalog, building it on the first request that needs it.
func (s *skewer) modelPlan(cat *catalog, sm *servedModel, sel *selection) *skewPlan {
	if s == nil || s.cfg.Disabled {
		return nil
	}
	if cur := sm.skew.Load(); cur != nil && cur.cat == cat {
		return cur.plan
	}
	mp := &modelSkew{cat: cat}
	if md := cat.ix.Model(sm.mv.GetModel()); md != nil {
		if svc := cat.ix.FeatureService(md.FeatureService); svc != nil && (svc.Logging.SampleRate > 0 || svc.Monitoring.Enabled) {
			p, err := s.plan(cat, svc, sel, sm.mv)
			if err != nil {
				s.log.Warn("model served without skew checks", "model", sm.mv.GetModel(), "version", sm.mv.GetVersion(), "err", err)
			}
			mp.plan = p
		}
	}
	sm.skew.Store(mp)
	return mp.plan
}

// modelSkew is a model version's skew plan on one catalog.
type modelSkew struct {
	cat  *catalog
	plan *skewPlan
}

// skewStatus serves GET /v1/skew: the monitors' report as JSON.
func (s *skewer) report() ([]byte, error) {
	rep := s.snapshot()
	return skewcheck.EncodeReport(rep)
}

// logStats sums the loggers' statistics.
func (s *skewer) logStats() featurelog.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t featurelog.Stats
	dirs := make([]string, 0, len(s.loggers))
	for d := range s.loggers {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		st := s.loggers[d].Stats()
		t.RowsLogged += st.RowsLogged
		t.RowsDroppedQueueFull += st.RowsDroppedQueueFull
		t.RowsDroppedWriteError += st.RowsDroppedWriteError
		t.RowsDroppedInvalid += st.RowsDroppedInvalid
		t.WriteErrors += st.WriteErrors
		t.FilesPublished += st.FilesPublished
		t.BytesPublished += st.BytesPublished
		t.QueuedRows += st.QueuedRows
	}
	return t
}

// skew serves GET /v1/skew: every monitored subject's state, distances
// and histograms (skewcheck/drift's Report, documented there).
func (f *front) skew(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() {
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: use GET")
		return
	}
	b, err := f.fs.sk.report()
	if err != nil {
		writeError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// collector exports the monitors' gauges and the loggers' counters.
func (s *skewer) collector() prometheus.Collector { return skewCollector{s} }

type skewCollector struct{ s *skewer }

var (
	descLogRows = prometheus.NewDesc("fstore_feature_log_rows_total",
		"Served rows by what became of them in the feature log: logged, or dropped because the queue was full, a write failed or the batch was invalid.", []string{"result"}, nil)
	descLogWriteErrors = prometheus.NewDesc("fstore_feature_log_write_errors_total", "Failed writes of feature log files.", nil, nil)
	descLogFiles       = prometheus.NewDesc("fstore_feature_log_files_total", "Feature log files published (complete and visible).", nil, nil)
	descLogBytes       = prometheus.NewDesc("fstore_feature_log_bytes_total", "Bytes of published feature log files.", nil, nil)
	descLogQueued      = prometheus.NewDesc("fstore_feature_log_queued_rows", "Rows waiting in the feature log queue.", nil, nil)
)

func (c skewCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogRows, descLogWriteErrors, descLogFiles, descLogBytes, descLogQueued} {
		ch <- d
	}
	drift.Describe(ch)
}

func (c skewCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.logStats()
	for _, r := range []struct {
		result string
		n      int64
	}{{"logged", st.RowsLogged}, {"dropped_queue_full", st.RowsDroppedQueueFull}, {"dropped_write_error", st.RowsDroppedWriteError}, {"dropped_invalid", st.RowsDroppedInvalid}} {
		ch <- prometheus.MustNewConstMetric(descLogRows, prometheus.CounterValue, float64(r.n), r.result)
	}
	ch <- prometheus.MustNewConstMetric(descLogWriteErrors, prometheus.CounterValue, float64(st.WriteErrors))
	ch <- prometheus.MustNewConstMetric(descLogFiles, prometheus.CounterValue, float64(st.FilesPublished))
	ch <- prometheus.MustNewConstMetric(descLogBytes, prometheus.CounterValue, float64(st.BytesPublished))
	ch <- prometheus.MustNewConstMetric(descLogQueued, prometheus.GaugeValue, float64(st.QueuedRows))
	c.s.mu.Lock()
	ms := make([]*drift.Monitor, 0, len(c.s.monitors))
	for _, m := range c.s.monitors {
		ms = append(ms, m)
	}
	c.s.mu.Unlock()
	for _, m := range ms {
		m.Collector().Collect(ch)
	}
}
