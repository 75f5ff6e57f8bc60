package def

import "strings"

// Kind names a type of registry object as the CLI and APIs spell it.
type Kind string

// The object kinds, in the order listings show them.
const (
	KindEntity         Kind = "entity"
	KindSource         Kind = "source"
	KindFeatureView    Kind = "feature_view"
	KindOnDemandView   Kind = "on_demand_feature_view"
	KindFeatureService Kind = "feature_service"
	KindModel          Kind = "model"
	KindEndpoint       Kind = "endpoint"
)

// Kinds lists every kind in listing order.
var Kinds = []Kind{KindEntity, KindSource, KindFeatureView, KindOnDemandView, KindFeatureService, KindModel, KindEndpoint}

// ParseKind accepts a kind in singular or plural form, with '_' or '-'
// ("feature-views", "feature_view", "views" is not accepted).
func ParseKind(s string) (Kind, bool) {
	s = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	for _, k := range Kinds {
		if s == string(k) || s == k.Plural() {
			return k, true
		}
	}
	return "", false
}

// Plural returns the plural form used in REST paths ("feature_views").
func (k Kind) Plural() string {
	if k == KindEntity {
		return "entities"
	}
	return string(k) + "s"
}

// Object is implemented by every definition type.
type Object interface {
	ObjectKind() Kind
	ObjectName() string
	ObjectMeta() *Meta
}

func (e *Entity) ObjectKind() Kind                { return KindEntity }
func (e *Entity) ObjectName() string              { return e.Name }
func (e *Entity) ObjectMeta() *Meta               { return &e.Meta }
func (s *Source) ObjectKind() Kind                { return KindSource }
func (s *Source) ObjectName() string              { return s.Name }
func (s *Source) ObjectMeta() *Meta               { return &s.Meta }
func (v *FeatureView) ObjectKind() Kind           { return KindFeatureView }
func (v *FeatureView) ObjectName() string         { return v.Name }
func (v *FeatureView) ObjectMeta() *Meta          { return &v.Meta }
func (v *OnDemandFeatureView) ObjectKind() Kind   { return KindOnDemandView }
func (v *OnDemandFeatureView) ObjectName() string { return v.Name }
func (v *OnDemandFeatureView) ObjectMeta() *Meta  { return &v.Meta }
func (s *FeatureService) ObjectKind() Kind        { return KindFeatureService }
func (s *FeatureService) ObjectName() string      { return s.Name }
func (s *FeatureService) ObjectMeta() *Meta       { return &s.Meta }
func (m *Model) ObjectKind() Kind                 { return KindModel }
func (m *Model) ObjectName() string               { return m.Name }
func (m *Model) ObjectMeta() *Meta                { return &m.Meta }
func (e *Endpoint) ObjectKind() Kind              { return KindEndpoint }
func (e *Endpoint) ObjectName() string            { return e.Name }
func (e *Endpoint) ObjectMeta() *Meta             { return &e.Meta }

// Objects returns every object of d in listing order: by kind, then in
// definition order.
func (d *Definitions) Objects() []Object {
	out := make([]Object, 0, len(d.Entities)+len(d.Sources)+len(d.FeatureViews)+
		len(d.OnDemandViews)+len(d.FeatureServices)+len(d.Models)+len(d.Endpoints))
	for _, o := range d.Entities {
		out = append(out, o)
	}
	for _, o := range d.Sources {
		out = append(out, o)
	}
	for _, o := range d.FeatureViews {
		out = append(out, o)
	}
	for _, o := range d.OnDemandViews {
		out = append(out, o)
	}
	for _, o := range d.FeatureServices {
		out = append(out, o)
	}
	for _, o := range d.Models {
		out = append(out, o)
	}
	for _, o := range d.Endpoints {
		out = append(out, o)
	}
	return out
}

// Merge appends every object of other to d. Duplicates are left for
// Validate to report.
func (d *Definitions) Merge(other *Definitions) {
	d.Entities = append(d.Entities, other.Entities...)
	d.Sources = append(d.Sources, other.Sources...)
	d.FeatureViews = append(d.FeatureViews, other.FeatureViews...)
	d.OnDemandViews = append(d.OnDemandViews, other.OnDemandViews...)
	d.FeatureServices = append(d.FeatureServices, other.FeatureServices...)
	d.Models = append(d.Models, other.Models...)
	d.Endpoints = append(d.Endpoints, other.Endpoints...)
}
