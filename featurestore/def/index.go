package def

import (
	"fmt"
	"sort"
	"strings"
)

// Index looks definitions up by name. It is built once per definitions set
// and is read-only afterwards, so it is safe for concurrent use.
type Index struct {
	Defs      *Definitions
	entities  map[string]*Entity
	sources   map[string]*Source
	views     map[string]*FeatureView
	odViews   map[string]*OnDemandFeatureView
	services  map[string]*FeatureService
	models    map[string]*Model
	endpoints map[string]*Endpoint
}

// NewIndex indexes d. With duplicate names, the first definition wins;
// Validate reports the duplicates.
func NewIndex(d *Definitions) *Index {
	ix := &Index{
		Defs:      d,
		entities:  make(map[string]*Entity, len(d.Entities)),
		sources:   make(map[string]*Source, len(d.Sources)),
		views:     make(map[string]*FeatureView, len(d.FeatureViews)),
		odViews:   make(map[string]*OnDemandFeatureView, len(d.OnDemandViews)),
		services:  make(map[string]*FeatureService, len(d.FeatureServices)),
		models:    make(map[string]*Model, len(d.Models)),
		endpoints: make(map[string]*Endpoint, len(d.Endpoints)),
	}
	for _, o := range d.Entities {
		putFirst(ix.entities, o.Name, o)
	}
	for _, o := range d.Sources {
		putFirst(ix.sources, o.Name, o)
	}
	for _, o := range d.FeatureViews {
		putFirst(ix.views, o.Name, o)
	}
	for _, o := range d.OnDemandViews {
		putFirst(ix.odViews, o.Name, o)
	}
	for _, o := range d.FeatureServices {
		putFirst(ix.services, o.Name, o)
	}
	for _, o := range d.Models {
		putFirst(ix.models, o.Name, o)
	}
	for _, o := range d.Endpoints {
		putFirst(ix.endpoints, o.Name, o)
	}
	return ix
}

func putFirst[T any](m map[string]*T, name string, v *T) {
	if _, ok := m[name]; !ok {
		m[name] = v
	}
}

// Entity returns the entity called name, or nil.
func (ix *Index) Entity(name string) *Entity { return ix.entities[name] }

// Source returns the source called name, or nil.
func (ix *Index) Source(name string) *Source { return ix.sources[name] }

// FeatureView returns the feature view called name, or nil.
func (ix *Index) FeatureView(name string) *FeatureView { return ix.views[name] }

// OnDemandView returns the on-demand feature view called name, or nil.
func (ix *Index) OnDemandView(name string) *OnDemandFeatureView { return ix.odViews[name] }

// FeatureService returns the feature service called name, or nil.
func (ix *Index) FeatureService(name string) *FeatureService { return ix.services[name] }

// Model returns the model called name, or nil.
func (ix *Index) Model(name string) *Model { return ix.models[name] }

// Endpoint returns the endpoint called name, or nil.
func (ix *Index) Endpoint(name string) *Endpoint { return ix.endpoints[name] }

// Lookup returns the object of kind k called name, or nil.
func (ix *Index) Lookup(k Kind, name string) Object {
	var o Object
	switch k {
	case KindEntity:
		if v := ix.entities[name]; v != nil {
			o = v
		}
	case KindSource:
		if v := ix.sources[name]; v != nil {
			o = v
		}
	case KindFeatureView:
		if v := ix.views[name]; v != nil {
			o = v
		}
	case KindOnDemandView:
		if v := ix.odViews[name]; v != nil {
			o = v
		}
	case KindFeatureService:
		if v := ix.services[name]; v != nil {
			o = v
		}
	case KindModel:
		if v := ix.models[name]; v != nil {
			o = v
		}
	case KindEndpoint:
		if v := ix.endpoints[name]; v != nil {
			o = v
		}
	}
	return o
}

// Names returns the sorted names of the objects of kind k.
func (ix *Index) Names(k Kind) []string {
	var names []string
	for _, o := range ix.Defs.Objects() {
		if o.ObjectKind() == k {
			names = append(names, o.ObjectName())
		}
	}
	sort.Strings(names)
	return names
}

// viewFeatures returns the feature names of the (on-demand) view called
// name and whether such a view exists.
func (ix *Index) viewFeatures(name string) ([]string, bool) {
	if v := ix.views[name]; v != nil {
		return v.FeatureNames(), true
	}
	if v := ix.odViews[name]; v != nil {
		return v.FeatureNames(), true
	}
	return nil, false
}

// ColumnRef returns the feature whose training-set column name
// (FeatureRef.Column, "<view>__<feature>") is col, and whether the index
// has one. View and feature names may themselves contain "__", so each
// split is tried from the left; the first that names an existing feature
// wins.
func (ix *Index) ColumnRef(col string) (FeatureRef, bool) {
	for off := 0; ; {
		j := strings.Index(col[off:], "__")
		if j < 0 {
			return FeatureRef{}, false
		}
		r := FeatureRef{View: col[:off+j], Feature: col[off+j+2:]}
		if features, ok := ix.viewFeatures(r.View); ok && r.Feature != "" && contains(features, r.Feature) {
			return r, true
		}
		off += j + 1
	}
}

// viewNames returns the sorted names of feature views and on-demand views.
func (ix *Index) viewNames() []string {
	names := append(ix.Names(KindFeatureView), ix.Names(KindOnDemandView)...)
	sort.Strings(names)
	return names
}

// ExpandRefs parses and resolves feature references, expanding view:* into
// every feature of the view in definition order. The result has no
// duplicates; a reference repeated (directly or through a wildcard) is an
// error.
func (ix *Index) ExpandRefs(refs []string) ([]FeatureRef, error) {
	out := make([]FeatureRef, 0, len(refs))
	seen := make(map[FeatureRef]string, len(refs))
	add := func(r FeatureRef, via string) error {
		if prev, dup := seen[r]; dup {
			return fmt.Errorf("feature %s is selected twice (by %q and %q)", r, prev, via)
		}
		seen[r] = via
		out = append(out, r)
		return nil
	}
	for _, s := range refs {
		r, err := ParseFeatureRef(s)
		if err != nil {
			return nil, err
		}
		features, ok := ix.viewFeatures(r.View)
		if !ok {
			return nil, fmt.Errorf("feature reference %q: unknown feature view %q%s", s, r.View, hint(r.View, ix.viewNames()))
		}
		if r.Wildcard() {
			for _, f := range features {
				if err := add(FeatureRef{View: r.View, Feature: f}, s); err != nil {
					return nil, err
				}
			}
			continue
		}
		if !contains(features, r.Feature) {
			return nil, fmt.Errorf("feature reference %q: view %q has no feature %q%s", s, r.View, r.Feature, hint(r.Feature, features))
		}
		if err := add(r, s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ServiceFeatures returns the expanded feature references of the service
// called name.
func (ix *Index) ServiceFeatures(name string) ([]FeatureRef, error) {
	s := ix.services[name]
	if s == nil {
		return nil, fmt.Errorf("unknown feature service %q%s", name, hint(name, ix.Names(KindFeatureService)))
	}
	return ix.ExpandRefs(s.Features)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hint formats a "did you mean" suffix, or "" when nothing is close.
func hint(name string, candidates []string) string {
	s := Suggest(name, candidates)
	switch len(s) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	q := make([]string, len(s))
	for i, c := range s {
		q[i] = fmt.Sprintf("%q", c)
	}
	return " (did you mean one of " + joinOr(q) + "?)"
}

func joinOr(q []string) string {
	out := ""
	for i, s := range q {
		switch {
		case i == 0:
		case i == len(q)-1:
			out += " or "
		default:
			out += ", "
		}
		out += s
	}
	return out
}

// HintFor returns a " (did you mean …?)" suffix naming the candidates
// closest to name, or "" when none is close.
func HintFor(name string, candidates []string) string { return hint(name, candidates) }
