package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fastjson"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// Limits bound one request. Zero fields take the defaults.
type Limits struct {
	// MaxEntities bounds the entities (rows) of one feature request or
	// the events of one push. Default 10,000.
	MaxEntities int
	// MaxFeatures bounds the features of one request. Default 1,000.
	MaxFeatures int
	// RequestTimeout bounds one request's work, store calls included.
	// Default 1s.
	RequestTimeout time.Duration
	// MaxFuture bounds the event times of a push: an event later than
	// now + MaxFuture is refused (featurestore.PushOptions.MaxFuture).
	// Default featurestore.DefaultMaxFuture (1h); negative: no bound.
	MaxFuture time.Duration
}

// EnsureDefaults fills unset fields.
func (l *Limits) EnsureDefaults() {
	if l.MaxEntities <= 0 {
		l.MaxEntities = 10_000
	}
	if l.MaxFeatures <= 0 {
		l.MaxFeatures = 1_000
	}
	if l.RequestTimeout <= 0 {
		l.RequestTimeout = time.Second
	}
	if l.MaxFuture == 0 {
		l.MaxFuture = featurestore.DefaultMaxFuture
	}
}

// inputCol is one column of a request's entities or request context: its
// name, where its values come from (a JSON array or a protobuf column) and,
// once a view or on-demand view has said which type it must have, its
// typed values.
type inputCol struct {
	name  string
	json  []*fastjson.Value
	pb    []*fstorev1.Value
	col   compute.Column
	typed bool
	used  bool
	// field names the column in errors: "entities" or "request_context".
	field string
}

func (c *inputCol) len() int {
	if c.pb != nil {
		return len(c.pb)
	}
	return len(c.json)
}

// odState is a request's evaluator of one on-demand view.
type odState struct {
	plan  *compute.OnDemandPlan
	ev    *compute.OnDemandEvaluator
	batch compute.Batch
	out   []*compute.Column
}

// onlineRequest is the state of one feature request, reused through a pool:
// after a few requests of the largest shape, serving one allocates a
// constant number of objects, whatever its entity and feature counts.
type onlineRequest struct {
	cat  *catalog
	lim  *Limits
	sel  selection
	use  *selection
	full bool
	n    int
	now  int64

	service string
	// preset is a selection compiled ahead for this catalog (a model's
	// inputs); resolve uses it as it uses a feature service's.
	preset   *selection
	ents     []inputCol
	reqCtx   []inputCol
	reads    []featurestore.ReadResult // by view slot
	wants    [][]bool                  // by view slot: the outputs to read
	keys     [][]*compute.Column       // by view slot
	ods      []odState                 // by on-demand slot
	nameSeen map[string]string
	parser   fastjson.Parser
	out      []byte
	fs       *featureServer
	dctx     *deadlineCtx // the HTTP request's context, reused
	// times holds the event_timestamps list of the view being encoded;
	// present and epochs the all-PRESENT statuses and all-epoch times of
	// r.n rows, formatted at most once per request (empty until then).
	times, present, epochs []byte
	// seen marks the ids (feature.id) of the features in sel, to find
	// a feature requested twice; reset clears the bits sel's features
	// set, not the whole bitmap, whose size is the catalog's.
	seen []uint64
	// lastView and lastSV are the view of the latest feature reference
	// (lastSV nil: not an online view): references name their views in
	// runs ("v:a", "v:b", …), and comparing the name costs less than
	// looking it up again.
	lastView string
	lastSV   *servedView
	// skewKeys, keyBuf and idBuf are the feature log's scratch: the key
	// columns, a row's sampling key and the request id.
	skewKeys      []*compute.Column
	keyBuf, idBuf []byte
	skewRows      []int32
}

func (r *onlineRequest) reset(cat *catalog, lim *Limits) {
	for _, f := range r.sel.features {
		r.seen[f.id/64] &^= 1 << (f.id % 64)
	}
	if n := (cat.nids + 63) / 64; len(r.seen) < n {
		r.seen = make([]uint64, n)
	}
	r.cat, r.lim, r.use, r.full, r.n, r.service, r.preset = cat, lim, nil, false, 0, "", nil
	r.lastView, r.lastSV = "", nil
	r.sel.reset()
	r.ents, r.reqCtx = r.ents[:0], r.reqCtx[:0]
	if r.nameSeen == nil {
		r.nameSeen = map[string]string{}
	}
	clear(r.nameSeen)
	for len(r.reads) < cat.nviews {
		r.reads = append(r.reads, featurestore.ReadResult{})
		r.keys = append(r.keys, nil)
		r.wants = append(r.wants, nil)
	}
	for len(r.ods) < cat.nod {
		r.ods = append(r.ods, odState{})
	}
}

// addInput appends an input column to list and returns it.
func (r *onlineRequest) addInput(list *[]inputCol, name, field string) *inputCol {
	// Reslice rather than append a zero value, so that the column keeps
	// its buffers from earlier requests.
	if len(*list) < cap(*list) {
		*list = (*list)[:len(*list)+1]
	} else {
		*list = append(*list, inputCol{})
	}
	c := &(*list)[len(*list)-1]
	c.name, c.field, c.typed, c.used = name, field, false, false
	c.json, c.pb = nil, nil
	return c
}

// addRef resolves one feature reference "view:feature" into the selection.
func (r *onlineRequest) addRef(ref string) error {
	if len(r.sel.features) >= r.lim.MaxFeatures {
		return badRequest("more than %d features requested (the limit)", r.lim.MaxFeatures)
	}
	colon := -1
	for i := 0; i < len(ref); i++ {
		if ref[i] == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 || colon == len(ref)-1 {
		return badRequest("feature reference %q: want \"view:feature\"", ref)
	}
	view, name := ref[:colon], ref[colon+1:]
	before := len(r.sel.features)
	if view != r.lastView {
		r.lastView, r.lastSV = view, r.cat.views[view]
	}
	var err error
	if r.lastSV != nil {
		err = r.lastSV.add(&r.sel, name)
	} else {
		err = r.cat.add(&r.sel, view, name)
	}
	if err != nil {
		return fmt.Errorf("feature reference %q: %w", ref, err)
	}
	for _, f := range r.sel.features[before:] {
		w, bit := f.id/64, uint64(1)<<(f.id%64)
		if r.seen[w]&bit != 0 {
			return badRequest("feature reference %q: feature %s:%s is requested twice", ref, view, f.name)
		}
		r.seen[w] |= bit
	}
	return nil
}

// resolve finishes a decoded request: picks the selection, types the input
// columns the selection needs, and checks shapes and limits.
func (r *onlineRequest) resolve() error {
	lim := r.lim
	if r.service != "" {
		sel, ok := r.cat.services[r.service]
		if !ok {
			if err, bad := r.cat.serviceErr[r.service]; bad {
				return &unservableError{view: r.service, err: err}
			}
			return &notFoundError{what: "feature service", name: r.service, known: r.cat.ix.Names(def.KindFeatureService)}
		}
		if len(sel.features) > lim.MaxFeatures {
			return badRequest("feature service %q has %d features, more than the limit of %d", r.service, len(sel.features), lim.MaxFeatures)
		}
		r.use = sel
	} else if r.preset != nil {
		if len(r.preset.features) > lim.MaxFeatures {
			return badRequest("the model has %d inputs, more than the limit of %d features", len(r.preset.features), lim.MaxFeatures)
		}
		r.use = r.preset
	} else {
		if len(r.sel.features) == 0 {
			return badRequest("no features requested: give \"features\" or \"feature_service\"")
		}
		r.use = &r.sel
	}
	if !r.full && len(r.use.views)+len(r.use.ods) > 1 {
		for _, f := range r.use.features {
			if prev, dup := r.nameSeen[f.name]; dup && prev != f.fullName {
				return badRequest("features %q and %q have the same name %q; set \"full_feature_names\": true", prev, f.fullName, f.name)
			}
			r.nameSeen[f.name] = f.fullName
		}
	}
	if len(r.ents) == 0 {
		return badRequest("no entities given")
	}
	r.n = r.ents[0].len()
	for i := range r.ents {
		if n := r.ents[i].len(); n != r.n {
			return badRequest("entities: %q has %d values but %q has %d; every entity column must have the same length", r.ents[i].name, n, r.ents[0].name, r.n)
		}
	}
	if r.n > lim.MaxEntities {
		return badRequest("%d entities requested, more than the limit of %d", r.n, lim.MaxEntities)
	}
	for i := range r.reqCtx {
		if n := r.reqCtx[i].len(); n != r.n {
			return badRequest("request_context: %q has %d values, want one per entity (%d)", r.reqCtx[i].name, n, r.n)
		}
	}
	r.selectOutputs()
	for _, sv := range r.use.views {
		ov := sv.ov
		keys := r.keys[sv.slot][:0]
		for k, name := range ov.KeyNames {
			c := r.findInput(r.ents, name)
			if c == nil {
				return badRequest("entities: missing join key %q of feature view %q", name, ov.Name)
			}
			if err := c.typeAs(ov.KeyTypes[k], "join key of feature view", ov.Name); err != nil {
				return err
			}
			keys = append(keys, &c.col)
		}
		r.keys[sv.slot] = keys
	}
	for _, sod := range r.use.ods {
		for _, f := range sod.reqFields {
			c := r.findInput(r.reqCtx, f.Name)
			if c == nil {
				// Feast lets request fields ride in the entities too.
				c = r.findInput(r.ents, f.Name)
			}
			if c == nil {
				return badRequest("request_context: missing field %q of on-demand view %q", f.Name, sod.plan.View.Name)
			}
			if err := c.typeAs(f.Type, "request field of on-demand view", sod.plan.View.Name); err != nil {
				return err
			}
		}
	}
	for i := range r.ents {
		if !r.ents[i].used {
			return badRequest("entities: %q is not a join key of any requested feature view%s", r.ents[i].name, def.HintFor(r.ents[i].name, r.joinKeys()))
		}
	}
	for i := range r.reqCtx {
		if !r.reqCtx[i].used {
			return badRequest("request_context: %q is not a request field of any requested on-demand view", r.reqCtx[i].name)
		}
	}
	return nil
}

// selectOutputs marks, per view to read, the outputs the request needs:
// its features of the view and the inputs of its on-demand views, so that
// a read decodes no other.
func (r *onlineRequest) selectOutputs() {
	for _, sv := range r.use.views {
		w := r.wants[sv.slot]
		if n := len(sv.ov.Outputs); cap(w) < n {
			w = make([]bool, n)
		} else {
			w = w[:n]
			clear(w)
		}
		r.wants[sv.slot] = w
	}
	for _, f := range r.use.features {
		if f.view != nil {
			r.wants[f.view.slot][f.out] = true
		}
	}
	for _, sod := range r.use.ods {
		for _, in := range sod.inputs {
			r.wants[in.view.slot][in.out] = true
		}
	}
}

func (r *onlineRequest) joinKeys() []string {
	var names []string
	for _, sv := range r.use.views {
		names = append(names, sv.ov.KeyNames...)
	}
	return names
}

func (r *onlineRequest) findInput(list []inputCol, name string) *inputCol {
	for i := range list {
		if list[i].name == name {
			return &list[i]
		}
	}
	return nil
}

// typeAs converts c's values to type t once; a second use with another
// type is an error.
func (c *inputCol) typeAs(t def.ValueType, role, owner string) error {
	c.used = true
	if c.typed {
		if c.col.Type != t {
			return badRequest("%s: %q is used as %s and as %s (%s %q)", c.field, c.name, c.col.Type, t, role, owner)
		}
		return nil
	}
	n := c.len()
	c.col.ResetBitmap(t, n, false)
	var err error
	if c.pb != nil {
		err = fillPB(&c.col, c.pb)
	} else {
		err = fillJSON(&c.col, c.json)
	}
	if err != nil {
		return badRequest("%s.%s%v (%s %q)", c.field, c.name, err, role, owner)
	}
	c.typed = true
	return nil
}

// execute reads every needed view and evaluates the on-demand views.
// now is the request's time (microseconds), computed once by the caller.
func (r *onlineRequest) execute(ctx context.Context, store featurestore.OnlineStore, m *metrics, now int64) error {
	r.now = now
	for _, sv := range r.use.views {
		start := time.Now()
		err := featurestore.ReadOutputs(ctx, store, sv.ov, r.wants[sv.slot], r.keys[sv.slot], r.n, r.now, &r.reads[sv.slot])
		m.storeRead(time.Since(start))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if q := sv.quality; q != nil { // data-quality gates: quality.go
			q.check(&r.reads[sv.slot], r.wants[sv.slot], r.now)
		}
	}
	for _, sod := range r.use.ods {
		st := &r.ods[sod.slot]
		if st.plan != sod.plan {
			st.plan, st.ev = sod.plan, sod.plan.NewEvaluator()
		}
		b := &st.batch
		b.Len = r.n
		b.Cols = b.Cols[:0]
		for _, f := range sod.reqFields {
			c := r.findInput(r.reqCtx, f.Name)
			if c == nil {
				c = r.findInput(r.ents, f.Name)
			}
			b.Cols = append(b.Cols, &c.col)
		}
		for _, in := range sod.inputs {
			b.Cols = append(b.Cols, &r.reads[in.view.slot].Values[in.out])
		}
		st.out = st.out[:0]
		for i := range sod.plan.Features {
			st.out = append(st.out, st.ev.Feature(i, b))
		}
	}
	return nil
}

// value returns the column, statuses and event times of feature f; for an
// on-demand feature statuses and times are nil (PRESENT or NULL_VALUE by
// validity; no event time).
func (r *onlineRequest) value(f *feature) (*compute.Column, []featurestore.Status, []int64) {
	if f.od != nil {
		return r.ods[f.od.slot].out[f.out], nil, nil
	}
	rr := &r.reads[f.view.slot]
	return &rr.Values[f.out], rr.Status[f.out], rr.EventTS
}

// featureName is f's name in the response.
func (r *onlineRequest) featureName(f *feature) string {
	if r.full {
		return f.fullName
	}
	return f.name
}

// valueError reports a bad value at index i.
type valueError struct {
	i   int
	msg string
}

func (e *valueError) Error() string { return fmt.Sprintf("[%d]: %s", e.i, e.msg) }
