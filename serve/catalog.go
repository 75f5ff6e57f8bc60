package serve

import (
	"errors"
	"fmt"
	"sort"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

// catalog is one registry version compiled for serving: the online views
// with their features indexed by name, the on-demand views, and the
// feature services resolved into selections. It is immutable once built;
// the server swaps the whole catalog on a new registry version, and every
// request loads it once, so a request never sees two versions.
type catalog struct {
	version uint64
	ix      *def.Index
	views   map[string]*servedView
	// broken holds views that are online in the registry but cannot be
	// served by this process (their plan did not compile here), with why.
	broken map[string]error
	// nviews and nod count the slots of views and on-demand views; a
	// request keeps per-slot state in arrays of these sizes.
	nviews, nod int
	// nids counts the outputs of all views and on-demand views: each has
	// an id below it (feature.id), so that a request marks the features
	// it has seen in a bitmap, not a map of their names.
	nids int
	od   map[string]*servedOD
	// services are the feature services whose features all resolve; the
	// others are in serviceErr.
	services   map[string]*selection
	serviceErr map[string]error
	// pushSources maps a push source's name to the online views reading it.
	pushSources map[string][]*featurestore.OnlineView
	// skew holds, by feature service, what the service logs and
	// monitors (see skewer.compileSkew); nil without a skewer.
	skew map[string]*skewPlan
}

// servedView is an online feature view of a catalog.
type servedView struct {
	ov   *featurestore.OnlineView
	slot int
	// id0 is the id of output 0; output o has id0+o.
	id0 int
	// outputs maps a feature name to its output index in ov.Outputs.
	outputs map[string]int
	// fullNames are the outputs' "view__feature" names.
	fullNames []string
	// quality is the view's serve-time gates (quality.go); nil: none.
	quality *viewQuality
}

// servedOD is an on-demand view of a catalog.
type servedOD struct {
	plan *compute.OnDemandPlan
	slot int
	// id0 is the id of output 0; output o has id0+o.
	id0 int
	// inputs[i] is the view and output read for plan.Inputs[i].
	inputs  []feature
	outputs map[string]int
	// reqFields are the request fields, in plan.Input order.
	reqFields []def.Field
	fullNames []string
}

// feature is one selected output: of view (od nil) or of od.
type feature struct {
	view *servedView
	od   *servedOD
	out  int
	// id is the output's number in its catalog (see catalog.nids).
	id int
	// name and fullName are the response names: "feature" and
	// "view__feature".
	name, fullName string
}

// selection is a resolved list of features and what it needs read.
type selection struct {
	features []feature
	// views are the views to read (requested, or inputs of requested
	// on-demand views), each once; ods the on-demand views to evaluate.
	views []*servedView
	ods   []*servedOD
}

// reset empties s for reuse.
func (s *selection) reset() {
	s.features, s.views, s.ods = s.features[:0], s.views[:0], s.ods[:0]
}

// compileCatalog compiles snap for serving. Views and services that cannot
// be served are recorded with their errors rather than failing the whole
// version: one unreadable source must not take every other view offline.
func compileCatalog(snap *registry.Snapshot) *catalog {
	ix := snap.Index
	c := &catalog{
		version:     snap.Version,
		ix:          ix,
		views:       map[string]*servedView{},
		broken:      map[string]error{},
		od:          map[string]*servedOD{},
		services:    map[string]*selection{},
		serviceErr:  map[string]error{},
		pushSources: map[string][]*featurestore.OnlineView{},
	}
	ovs, err := featurestore.OnlineViews(ix)
	names := make([]string, 0, len(ovs))
	for name := range ovs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ov := ovs[name]
		sv := &servedView{ov: ov, slot: c.nviews, id0: c.nids, outputs: map[string]int{}}
		c.nids += len(ov.Outputs)
		for o, f := range ov.Outputs {
			sv.outputs[f.Name] = o
			sv.fullNames = append(sv.fullNames, name+"__"+f.Name)
		}
		c.views[name] = sv
		c.nviews++
		if ov.Push != nil {
			src := ov.Push.Source.Name
			c.pushSources[src] = append(c.pushSources[src], ov)
		}
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			var ve *featurestore.ViewError
			if errors.As(e, &ve) {
				c.broken[ve.View] = ve.Err
			}
		}
	}
	for _, v := range ix.Defs.OnDemandViews {
		if sod, err := c.compileOD(v); err != nil {
			c.broken[v.Name] = err
		} else {
			c.od[v.Name] = sod
		}
	}
	for _, s := range ix.Defs.FeatureServices {
		sel := &selection{}
		refs, err := ix.ServiceFeatures(s.Name)
		if err == nil {
			for _, r := range refs {
				if err = c.add(sel, r.View, r.Feature); err != nil {
					break
				}
			}
		}
		if err != nil {
			c.serviceErr[s.Name] = fmt.Errorf("feature service %q: %w", s.Name, err)
			continue
		}
		c.services[s.Name] = sel
	}
	return c
}

func (c *catalog) compileOD(v *def.OnDemandFeatureView) (*servedOD, error) {
	p, err := compute.CompileOnDemand(c.ix, v, func(view string) ([]def.Field, error) {
		sv := c.views[view]
		if sv == nil {
			if e, ok := c.broken[view]; ok {
				return nil, e
			}
			return nil, fmt.Errorf("view %q is not online", view)
		}
		return sv.ov.Outputs, nil
	})
	if err != nil {
		return nil, err
	}
	sod := &servedOD{plan: p, slot: c.nod, id0: c.nids, outputs: map[string]int{}, reqFields: v.RequestFields}
	c.nids += len(p.Outputs)
	for o, f := range p.Outputs {
		sod.outputs[f.Name] = o
		sod.fullNames = append(sod.fullNames, v.Name+"__"+f.Name)
	}
	for _, r := range p.Inputs {
		sv := c.views[r.View]
		o := sv.outputs[r.Feature]
		sod.inputs = append(sod.inputs, feature{view: sv, out: o, id: sv.id0 + o})
	}
	c.nod++
	return sod, nil
}

// add appends feature view:name to sel, with what it needs read. name "*"
// adds every feature of the view. It allocates only the first time a
// selection grows; lookups by a []byte converted in the map index do not
// allocate, so callers may pass string(b) conversions.
func (c *catalog) add(sel *selection, view, name string) error {
	if sv := c.views[view]; sv != nil {
		return sv.add(sel, name)
	}
	if sod := c.od[view]; sod != nil {
		add := func(o int) {
			sel.features = append(sel.features, feature{od: sod, out: o, id: sod.id0 + o, name: sod.plan.Outputs[o].Name, fullName: sod.fullNames[o]})
		}
		if name == "*" {
			for o := range sod.plan.Outputs {
				add(o)
			}
		} else {
			o, ok := sod.outputs[name]
			if !ok {
				return &refError{view: view, feature: name, known: sod.plan.Outputs}
			}
			add(o)
		}
		sel.needOD(sod)
		return nil
	}
	if err, ok := c.broken[view]; ok {
		return &unservableError{view: view, err: err}
	}
	return &refError{view: view, unknownView: true, views: c.viewNames()}
}

// add appends feature name of sv ("*": all of them) to sel, as
// catalog.add does: for callers that have looked the view up.
func (sv *servedView) add(sel *selection, name string) error {
	if name == "*" {
		for o, f := range sv.ov.Outputs {
			sel.features = append(sel.features, feature{view: sv, out: o, id: sv.id0 + o, name: f.Name, fullName: sv.fullNames[o]})
		}
		sel.needView(sv)
		return nil
	}
	o, ok := sv.outputs[name]
	if !ok {
		return &refError{view: sv.ov.Name, feature: name, known: sv.ov.Outputs}
	}
	sel.features = append(sel.features, feature{view: sv, out: o, id: sv.id0 + o, name: sv.ov.Outputs[o].Name, fullName: sv.fullNames[o]})
	sel.needView(sv)
	return nil
}

func (s *selection) needView(sv *servedView) {
	for _, v := range s.views {
		if v == sv {
			return
		}
	}
	s.views = append(s.views, sv)
}

func (s *selection) needOD(sod *servedOD) {
	for _, o := range s.ods {
		if o == sod {
			return
		}
	}
	s.ods = append(s.ods, sod)
	for _, in := range sod.inputs {
		s.needView(in.view)
	}
}

func (c *catalog) viewNames() []string {
	var names []string
	for n := range c.views {
		names = append(names, n)
	}
	for n := range c.od {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// refError is a feature reference that does not resolve. It formats its
// message (with a did-you-mean hint) only when asked, so that resolving a
// bad reference costs nothing until the error is reported.
type refError struct {
	view, feature string
	unknownView   bool
	views         []string
	known         []def.Field
}

func (e *refError) Error() string {
	if e.unknownView {
		return fmt.Sprintf("unknown feature view %q%s", e.view, def.HintFor(e.view, e.views))
	}
	names := make([]string, len(e.known))
	for i, f := range e.known {
		names[i] = f.Name
	}
	return fmt.Sprintf("feature view %q has no feature %q%s", e.view, e.feature, def.HintFor(e.feature, names))
}

func (e *refError) Is(target error) bool { return target == ErrBadRequest }

// unservableError is a reference to a view that is defined but cannot be
// served by this process.
type unservableError struct {
	view string
	err  error
}

func (e *unservableError) Error() string {
	return fmt.Sprintf("feature view %q cannot be served: %v", e.view, e.err)
}

func (e *unservableError) Is(target error) bool { return target == ErrUnservable }
