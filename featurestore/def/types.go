package def

import (
	"fmt"
	"time"
)

// ValueType is the type of a join key, column or feature value. Every type
// is nullable.
type ValueType uint8

// The value types. TypeUnspecified is the zero value and is never valid in a
// validated definition.
const (
	TypeUnspecified ValueType = iota
	Int64
	Double
	Bool
	String
	Timestamp
)

var valueTypeNames = [...]string{"UNSPECIFIED", "INT64", "DOUBLE", "BOOL", "STRING", "TIMESTAMP"}

// String returns the upper-case name used in definition files (INT64, ...).
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint8(t))
}

// Valid reports whether t is one of the defined types other than
// TypeUnspecified.
func (t ValueType) Valid() bool { return t > TypeUnspecified && t <= Timestamp }

// AggFunc is the function of a windowed aggregation.
type AggFunc uint8

// The aggregation functions. AggUnspecified is never valid.
const (
	AggUnspecified AggFunc = iota
	Count
	Sum
	Mean
	Min
	Max
	Last
	Stddev
)

var aggFuncNames = [...]string{"UNSPECIFIED", "COUNT", "SUM", "MEAN", "MIN", "MAX", "LAST", "STDDEV"}

// String returns the upper-case name used in definition files (SUM, ...).
func (f AggFunc) String() string {
	if int(f) < len(aggFuncNames) {
		return aggFuncNames[f]
	}
	return fmt.Sprintf("AggFunc(%d)", uint8(f))
}

// Valid reports whether f is a defined function other than AggUnspecified.
func (f AggFunc) Valid() bool { return f > AggUnspecified && f <= Stddev }

// Field is a named, typed column.
type Field struct {
	Name        string
	Type        ValueType
	Description string
	// AllowNonFinite lets pushed events carry NaN and infinities in this
	// DOUBLE field; without it a push holding one is refused.
	AllowNonFinite bool
}

// Meta is the free-form metadata every object carries, and where it was
// defined (set by the loader, not stored in the registry).
type Meta struct {
	Description string
	Owner       string
	Tags        map[string]string
	// Origin is "file:line" of the definition, or empty when unknown (for
	// example for objects read back from the registry).
	Origin string
}

// Entity is what features describe; its join keys identify one instance.
type Entity struct {
	Name     string
	JoinKeys []Field
	Meta
}

// SourceKind says where a source's events come from.
type SourceKind uint8

// The source kinds.
const (
	SourceUnspecified SourceKind = iota
	SourceParquet
	SourcePush
)

// String names the kind as definition files do.
func (k SourceKind) String() string {
	switch k {
	case SourceParquet:
		return "parquet"
	case SourcePush:
		return "push"
	}
	return "unspecified"
}

// Source is where a feature view's events come from.
type Source struct {
	Name string
	Kind SourceKind
	// Path is the Parquet file, directory or glob (SourceParquet).
	Path string
	// BatchSource names the Parquet source holding a push source's history.
	BatchSource            string
	TimestampColumn        string
	CreatedTimestampColumn string
	// Schema lists declared columns; required for push sources.
	Schema []Field
	Meta
}

// Column returns the declared column called name, if any.
func (s *Source) Column(name string) (Field, bool) {
	for _, f := range s.Schema {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Feature is a plain feature: the latest value of an expression.
type Feature struct {
	Name string
	Type ValueType
	// Expr is the expression; empty means the source column called Name.
	Expr        string
	Description string
	Tags        map[string]string
	// Expect is the feature's data-quality gate; nil when none.
	Expect *Expectation
}

// Expression returns the feature's expression, defaulting to its name.
func (f *Feature) Expression() string {
	if f.Expr == "" {
		return f.Name
	}
	return f.Expr
}

// Aggregation is a tile-aligned windowed aggregation.
type Aggregation struct {
	Name string
	Func AggFunc
	// Expr is the aggregated expression; empty only for Count.
	Expr   string
	Window time.Duration
	// Hop is the tile length; Window when zero in the definition.
	Hop         time.Duration
	Description string
	// Expect is the aggregate's data-quality gate; nil when none.
	Expect *Expectation
}

// FeatureView is a group of features from one source for one or more
// entities.
type FeatureView struct {
	Name         string
	Entities     []string
	Source       string
	Filter       string
	TTL          time.Duration
	Features     []Feature
	Aggregations []Aggregation
	Online       bool
	// MaxFreshnessLag bounds how far the view's newest event may lag the
	// time it is materialised or served at; 0 means no freshness gate.
	MaxFreshnessLag time.Duration
	Meta
}

// FeatureNames returns the view's output names: plain features, then
// aggregations, in definition order.
func (v *FeatureView) FeatureNames() []string {
	names := make([]string, 0, len(v.Features)+len(v.Aggregations))
	for i := range v.Features {
		names = append(names, v.Features[i].Name)
	}
	for i := range v.Aggregations {
		names = append(names, v.Aggregations[i].Name)
	}
	return names
}

// OnDemandFeatureView computes features at request (and backfill) time from
// request-context fields and input features.
type OnDemandFeatureView struct {
	Name          string
	RequestFields []Field
	// Inputs are feature references (view:feature or view:*).
	Inputs   []string
	Features []Feature
	Meta
}

// FeatureNames returns the view's feature names in definition order.
func (v *OnDemandFeatureView) FeatureNames() []string {
	names := make([]string, len(v.Features))
	for i := range v.Features {
		names[i] = v.Features[i].Name
	}
	return names
}

// LoggingConfig sets how a service's served rows are logged.
type LoggingConfig struct {
	SampleRate  float64
	Destination string
}

// FeatureService is a named set of feature references.
type FeatureService struct {
	Name       string
	Features   []string
	Logging    LoggingConfig
	Monitoring MonitoringConfig
	Meta
}

// Model is a model consuming one feature service.
type Model struct {
	Name           string
	FeatureService string
	Meta
}

// WeightedVersion is a model version and its share of traffic.
type WeightedVersion struct {
	Version uint32
	Weight  float64
}

// RoutingPolicy chooses which model versions answer requests.
type RoutingPolicy struct {
	Champion    uint32
	Challengers []WeightedVersion
	Shadows     []uint32
	Fallback    uint32
}

// Endpoint routes prediction requests among a model's versions.
type Endpoint struct {
	Name    string
	Model   string
	Routing RoutingPolicy
	Meta
}

// Definitions is a complete set of definitions: one registry version.
type Definitions struct {
	Entities        []*Entity
	Sources         []*Source
	FeatureViews    []*FeatureView
	OnDemandViews   []*OnDemandFeatureView
	FeatureServices []*FeatureService
	Models          []*Model
	Endpoints       []*Endpoint
}
