package registry

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// The conversions below are the only place protobuf definitions meet the
// engine's Go types. ToDef∘FromDef is the identity on everything the
// registry stores (Origin is not stored); FromDef∘ToDef normalises a hop of
// zero to the window, and an unset online flag to true.

// ToDef converts protobuf definitions to engine types.
func ToDef(p *fstorev1.Definitions) *def.Definitions {
	d := &def.Definitions{}
	for _, o := range p.GetEntities() {
		d.Entities = append(d.Entities, entityToDef(o))
	}
	for _, o := range p.GetSources() {
		d.Sources = append(d.Sources, sourceToDef(o))
	}
	for _, o := range p.GetFeatureViews() {
		d.FeatureViews = append(d.FeatureViews, viewToDef(o))
	}
	for _, o := range p.GetOnDemandFeatureViews() {
		d.OnDemandViews = append(d.OnDemandViews, odViewToDef(o))
	}
	for _, o := range p.GetFeatureServices() {
		d.FeatureServices = append(d.FeatureServices, serviceToDef(o))
	}
	for _, o := range p.GetModels() {
		d.Models = append(d.Models, modelToDef(o))
	}
	for _, o := range p.GetEndpoints() {
		d.Endpoints = append(d.Endpoints, endpointToDef(o))
	}
	return d
}

// FromDef converts engine definitions to protobuf.
func FromDef(d *def.Definitions) *fstorev1.Definitions {
	p := &fstorev1.Definitions{}
	for _, o := range d.Entities {
		p.Entities = append(p.Entities, entityFromDef(o))
	}
	for _, o := range d.Sources {
		p.Sources = append(p.Sources, sourceFromDef(o))
	}
	for _, o := range d.FeatureViews {
		p.FeatureViews = append(p.FeatureViews, viewFromDef(o))
	}
	for _, o := range d.OnDemandViews {
		p.OnDemandFeatureViews = append(p.OnDemandFeatureViews, odViewFromDef(o))
	}
	for _, o := range d.FeatureServices {
		p.FeatureServices = append(p.FeatureServices, serviceFromDef(o))
	}
	for _, o := range d.Models {
		p.Models = append(p.Models, modelFromDef(o))
	}
	for _, o := range d.Endpoints {
		p.Endpoints = append(p.Endpoints, endpointFromDef(o))
	}
	return p
}

func meta(desc, owner string, tags map[string]string) def.Meta {
	return def.Meta{Description: desc, Owner: owner, Tags: copyTags(tags)}
}

func copyTags(t map[string]string) map[string]string {
	if len(t) == 0 {
		return nil
	}
	c := make(map[string]string, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}

func fieldsToDef(fs []*fstorev1.Field) []def.Field {
	if len(fs) == 0 {
		return nil
	}
	out := make([]def.Field, len(fs))
	for i, f := range fs {
		out[i] = def.Field{Name: f.GetName(), Type: def.ValueType(f.GetType()), Description: f.GetDescription(), AllowNonFinite: f.GetAllowNonFinite()}
	}
	return out
}

func fieldsFromDef(fs []def.Field) []*fstorev1.Field {
	if len(fs) == 0 {
		return nil
	}
	out := make([]*fstorev1.Field, len(fs))
	for i, f := range fs {
		out[i] = &fstorev1.Field{Name: f.Name, Type: fstorev1.ValueType(f.Type), Description: f.Description, AllowNonFinite: f.AllowNonFinite}
	}
	return out
}

func entityToDef(p *fstorev1.Entity) *def.Entity {
	e := &def.Entity{Name: p.GetName(), Meta: meta(p.GetDescription(), p.GetOwner(), p.GetTags())}
	for _, k := range p.GetJoinKeys() {
		e.JoinKeys = append(e.JoinKeys, def.Field{Name: k.GetName(), Type: def.ValueType(k.GetType())})
	}
	return e
}

func entityFromDef(e *def.Entity) *fstorev1.Entity {
	p := &fstorev1.Entity{Name: e.Name, Description: e.Description, Owner: e.Owner, Tags: copyTags(e.Tags)}
	for _, k := range e.JoinKeys {
		p.JoinKeys = append(p.JoinKeys, &fstorev1.JoinKey{Name: k.Name, Type: fstorev1.ValueType(k.Type)})
	}
	return p
}

func sourceToDef(p *fstorev1.Source) *def.Source {
	s := &def.Source{
		Name:                   p.GetName(),
		TimestampColumn:        p.GetTimestampColumn(),
		CreatedTimestampColumn: p.GetCreatedTimestampColumn(),
		Schema:                 fieldsToDef(p.GetSchema()),
		Meta:                   meta(p.GetDescription(), p.GetOwner(), p.GetTags()),
	}
	switch k := p.GetKind().(type) {
	case *fstorev1.Source_Parquet:
		s.Kind = def.SourceParquet
		s.Path = k.Parquet.GetPath()
	case *fstorev1.Source_Push:
		s.Kind = def.SourcePush
		s.BatchSource = k.Push.GetBatchSource()
	}
	return s
}

func sourceFromDef(s *def.Source) *fstorev1.Source {
	p := &fstorev1.Source{
		Name:                   s.Name,
		TimestampColumn:        s.TimestampColumn,
		CreatedTimestampColumn: s.CreatedTimestampColumn,
		Schema:                 fieldsFromDef(s.Schema),
		Description:            s.Description,
		Owner:                  s.Owner,
		Tags:                   copyTags(s.Tags),
	}
	switch s.Kind {
	case def.SourceParquet:
		p.Kind = &fstorev1.Source_Parquet{Parquet: &fstorev1.ParquetSource{Path: s.Path}}
	case def.SourcePush:
		p.Kind = &fstorev1.Source_Push{Push: &fstorev1.PushSource{BatchSource: s.BatchSource}}
	}
	return p
}

func durToDef(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	// AsDuration saturates out-of-range values; validation then reports
	// them as too long or negative instead of wrapping around.
	return d.AsDuration()
}

func durFromDef(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func featuresToDef(fs []*fstorev1.Feature) []def.Feature {
	if len(fs) == 0 {
		return nil
	}
	out := make([]def.Feature, len(fs))
	for i, f := range fs {
		out[i] = def.Feature{Name: f.GetName(), Type: def.ValueType(f.GetType()), Expr: f.GetExpr(), Description: f.GetDescription(), Tags: copyTags(f.GetTags()), Expect: expectToDef(f.GetExpect())}
	}
	return out
}

func featuresFromDef(fs []def.Feature) []*fstorev1.Feature {
	if len(fs) == 0 {
		return nil
	}
	out := make([]*fstorev1.Feature, len(fs))
	for i, f := range fs {
		out[i] = &fstorev1.Feature{Name: f.Name, Type: fstorev1.ValueType(f.Type), Expr: f.Expr, Description: f.Description, Tags: copyTags(f.Tags), Expect: expectFromDef(f.Expect)}
	}
	return out
}

func viewToDef(p *fstorev1.FeatureView) *def.FeatureView {
	v := &def.FeatureView{
		Name:     p.GetName(),
		Entities: append([]string(nil), p.GetEntities()...),
		Source:   p.GetSource(),
		Filter:   p.GetFilter(),
		TTL:      durToDef(p.GetTtl()),
		Features: featuresToDef(p.GetFeatures()),
		Online:   p.Online == nil || *p.Online,
		Meta:     meta(p.GetDescription(), p.GetOwner(), p.GetTags()),

		MaxFreshnessLag: durToDef(p.GetMaxFreshnessLag()),
	}
	for _, a := range p.GetAggregations() {
		w, h := durToDef(a.GetWindow()), durToDef(a.GetHop())
		if a.GetHop() == nil {
			h = w
		}
		v.Aggregations = append(v.Aggregations, def.Aggregation{
			Name: a.GetName(), Func: def.AggFunc(a.GetFunction()), Expr: a.GetExpr(),
			Window: w, Hop: h, Description: a.GetDescription(), Expect: expectToDef(a.GetExpect()),
		})
	}
	return v
}

func viewFromDef(v *def.FeatureView) *fstorev1.FeatureView {
	online := v.Online
	p := &fstorev1.FeatureView{
		Name:        v.Name,
		Entities:    append([]string(nil), v.Entities...),
		Source:      v.Source,
		Filter:      v.Filter,
		Ttl:         durFromDef(v.TTL),
		Features:    featuresFromDef(v.Features),
		Online:      &online,
		Owner:       v.Owner,
		Tags:        copyTags(v.Tags),
		Description: v.Description,

		MaxFreshnessLag: durFromDef(v.MaxFreshnessLag),
	}
	for _, a := range v.Aggregations {
		p.Aggregations = append(p.Aggregations, &fstorev1.Aggregation{
			Name: a.Name, Function: fstorev1.AggregationFunction(a.Func), Expr: a.Expr,
			Window: durFromDef(a.Window), Hop: durFromDef(a.Hop), Description: a.Description,
			Expect: expectFromDef(a.Expect),
		})
	}
	return p
}

func odViewToDef(p *fstorev1.OnDemandFeatureView) *def.OnDemandFeatureView {
	return &def.OnDemandFeatureView{
		Name:          p.GetName(),
		RequestFields: fieldsToDef(p.GetRequestFields()),
		Inputs:        append([]string(nil), p.GetInputs()...),
		Features:      featuresToDef(p.GetFeatures()),
		Meta:          meta(p.GetDescription(), p.GetOwner(), p.GetTags()),
	}
}

func odViewFromDef(v *def.OnDemandFeatureView) *fstorev1.OnDemandFeatureView {
	return &fstorev1.OnDemandFeatureView{
		Name:          v.Name,
		RequestFields: fieldsFromDef(v.RequestFields),
		Inputs:        append([]string(nil), v.Inputs...),
		Features:      featuresFromDef(v.Features),
		Owner:         v.Owner,
		Tags:          copyTags(v.Tags),
		Description:   v.Description,
	}
}

func serviceToDef(p *fstorev1.FeatureService) *def.FeatureService {
	return &def.FeatureService{
		Name:     p.GetName(),
		Features: append([]string(nil), p.GetFeatures()...),
		Logging:  def.LoggingConfig{SampleRate: p.GetLogging().GetSampleRate(), Destination: p.GetLogging().GetDestination()},
		Meta:     meta(p.GetDescription(), p.GetOwner(), p.GetTags()),

		Monitoring: monitoringToDef(p.GetMonitoring()),
	}
}

func serviceFromDef(s *def.FeatureService) *fstorev1.FeatureService {
	p := &fstorev1.FeatureService{
		Name:        s.Name,
		Features:    append([]string(nil), s.Features...),
		Owner:       s.Owner,
		Tags:        copyTags(s.Tags),
		Description: s.Description,
		Monitoring:  monitoringFromDef(s.Monitoring),
	}
	if s.Logging != (def.LoggingConfig{}) {
		p.Logging = &fstorev1.FeatureLoggingConfig{SampleRate: s.Logging.SampleRate, Destination: s.Logging.Destination}
	}
	return p
}

func modelToDef(p *fstorev1.Model) *def.Model {
	return &def.Model{Name: p.GetName(), FeatureService: p.GetFeatureService(), Meta: meta(p.GetDescription(), p.GetOwner(), p.GetTags())}
}

func modelFromDef(m *def.Model) *fstorev1.Model {
	return &fstorev1.Model{Name: m.Name, FeatureService: m.FeatureService, Description: m.Description, Owner: m.Owner, Tags: copyTags(m.Tags)}
}

func endpointToDef(p *fstorev1.Endpoint) *def.Endpoint {
	r := p.GetRouting()
	e := &def.Endpoint{
		Name:  p.GetName(),
		Model: p.GetModel(),
		Routing: def.RoutingPolicy{
			Champion: r.GetChampion(),
			Shadows:  append([]uint32(nil), r.GetShadows()...),
			Fallback: r.GetFallback(),
		},
		Meta: def.Meta{Description: p.GetDescription()},
	}
	for _, c := range r.GetChallengers() {
		e.Routing.Challengers = append(e.Routing.Challengers, def.WeightedVersion{Version: c.GetVersion(), Weight: c.GetWeight()})
	}
	return e
}

func endpointFromDef(e *def.Endpoint) *fstorev1.Endpoint {
	p := &fstorev1.Endpoint{
		Name:  e.Name,
		Model: e.Model,
		Routing: &fstorev1.RoutingPolicy{
			Champion: e.Routing.Champion,
			Shadows:  append([]uint32(nil), e.Routing.Shadows...),
			Fallback: e.Routing.Fallback,
		},
		Description: e.Description,
	}
	for _, c := range e.Routing.Challengers {
		p.Routing.Challengers = append(p.Routing.Challengers, &fstorev1.WeightedVersion{Version: c.Version, Weight: c.Weight})
	}
	return p
}
