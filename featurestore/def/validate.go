package def

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Checker type-checks what this package cannot: expressions and filters
// against source schemas. The compute package implements it. Validate calls
// it only for objects whose structure and references are already valid, and
// report records one problem at a field path such as "features[2].expr".
type Checker interface {
	CheckFeatureView(ix *Index, v *FeatureView, report func(field string, err error))
	CheckOnDemandView(ix *Index, v *OnDemandFeatureView, report func(field string, err error))
}

// MaxTilesPerWindow bounds window/hop. Online state keeps one tile per hop
// for every entity, so a finer hop multiplies the size of every online value.
const MaxTilesPerWindow = 10_000

// Validate checks d as one registry version would hold it: names, types,
// durations, and every reference between objects. checker, if not nil,
// checks expressions. The error, if any, is a *ValidationError listing every
// problem found (at most MaxProblems).
func Validate(d *Definitions, checker Checker) error {
	v := validator{ix: NewIndex(d), ordinal: map[Object]int{}}
	for i, o := range d.Objects() {
		v.ordinal[o] = i
	}
	v.run(checker)
	if len(v.problems) == 0 {
		return nil
	}
	// Group problems by object, in listing order; within an object they
	// stay in the order the checks found them.
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].ordinal < v.problems[j].ordinal })
	return &ValidationError{Problems: v.problems, Truncated: v.truncated}
}

type validator struct {
	ix        *Index
	ordinal   map[Object]int
	problems  []Problem
	truncated int
	// broken marks objects with structural problems; the Checker skips them.
	broken map[Object]bool
}

// at returns a reporter for problems of one object.
func (v *validator) at(o Object, index int) func(field, format string, args ...any) {
	name := o.ObjectName()
	if name == "" {
		name = fmt.Sprintf("#%d", index)
	}
	return func(field, format string, args ...any) {
		if v.broken == nil {
			v.broken = map[Object]bool{}
		}
		v.broken[o] = true
		if len(v.problems) >= MaxProblems {
			v.truncated++
			return
		}
		v.problems = append(v.problems, Problem{
			Origin:  o.ObjectMeta().Origin,
			Kind:    o.ObjectKind(),
			Object:  name,
			Field:   field,
			Msg:     fmt.Sprintf(format, args...),
			ordinal: v.ordinal[o],
		})
	}
}

type reporter = func(field, format string, args ...any)

func (v *validator) run(checker Checker) {
	d := v.ix.Defs
	// Names and duplicates first, per namespace. Views and on-demand views
	// share one namespace because feature references name either.
	seen := map[string]map[string]bool{}
	checkName := func(o Object, i int, namespace string) {
		report := v.at(o, i)
		if err := CheckName(o.ObjectName()); err != nil {
			report("name", "%v", err)
			return
		}
		if seen[namespace] == nil {
			seen[namespace] = map[string]bool{}
		}
		if seen[namespace][o.ObjectName()] {
			what := string(o.ObjectKind())
			if namespace == "views" {
				what = "feature view or on-demand feature view"
			}
			report("name", "duplicate name: another %s is called %q", what, o.ObjectName())
			return
		}
		seen[namespace][o.ObjectName()] = true
	}
	for i, o := range d.Entities {
		checkName(o, i, "entity")
	}
	for i, o := range d.Sources {
		checkName(o, i, "source")
	}
	for i, o := range d.FeatureViews {
		checkName(o, i, "views")
		if strings.Contains(o.Name, "__") {
			v.at(o, i)("name", "feature view names may not contain \"__\" (it separates view and feature in training-set columns)")
		}
	}
	for i, o := range d.OnDemandViews {
		checkName(o, i, "views")
		if strings.Contains(o.Name, "__") {
			v.at(o, i)("name", "on-demand feature view names may not contain \"__\" (it separates view and feature in training-set columns)")
		}
	}
	for i, o := range d.FeatureServices {
		checkName(o, i, "feature_service")
	}
	for i, o := range d.Models {
		checkName(o, i, "model")
	}
	for i, o := range d.Endpoints {
		checkName(o, i, "endpoint")
	}

	for i, o := range d.Entities {
		v.entity(o, v.at(o, i))
	}
	for i, o := range d.Sources {
		v.source(o, v.at(o, i))
	}
	for i, o := range d.FeatureViews {
		v.featureView(o, v.at(o, i))
	}
	for i, o := range d.OnDemandViews {
		v.onDemandView(o, v.at(o, i))
	}
	for i, o := range d.FeatureServices {
		v.featureService(o, v.at(o, i))
	}
	for i, o := range d.Models {
		v.model(o, v.at(o, i))
	}
	for i, o := range d.Endpoints {
		v.endpoint(o, v.at(o, i))
	}

	if checker == nil {
		return
	}
	for i, o := range d.FeatureViews {
		if v.broken[o] {
			continue
		}
		report := v.at(o, i)
		checker.CheckFeatureView(v.ix, o, func(field string, err error) { report(field, "%v", err) })
	}
	for i, o := range d.OnDemandViews {
		if v.broken[o] {
			continue
		}
		report := v.at(o, i)
		checker.CheckOnDemandView(v.ix, o, func(field string, err error) { report(field, "%v", err) })
	}
}

func (v *validator) entity(e *Entity, report reporter) {
	if len(e.JoinKeys) == 0 {
		report("join_keys", "an entity needs at least one join key")
	}
	seen := map[string]bool{}
	for i, k := range e.JoinKeys {
		field := fmt.Sprintf("join_keys[%d]", i)
		if err := checkColumnName(k.Name); err != nil {
			report(field+".name", "%v", err)
		} else if seen[k.Name] {
			report(field+".name", "duplicate join key %q", k.Name)
		}
		seen[k.Name] = true
		switch k.Type {
		case Int64, String:
		case TypeUnspecified:
			report(field+".type", "missing type: join keys are INT64 or STRING")
		default:
			report(field+".type", "join key type %s is not supported: join keys are INT64 or STRING", k.Type)
		}
	}
}

func (v *validator) source(s *Source, report reporter) {
	switch s.Kind {
	case SourceParquet:
		if s.Path == "" {
			report("parquet.path", "missing path: a Parquet file, directory or glob")
		}
	case SourcePush:
		if len(s.Schema) == 0 {
			report("schema", "a push source needs a declared schema: pushed events are validated against it")
		}
		if s.BatchSource != "" {
			b := v.ix.Source(s.BatchSource)
			switch {
			case b == nil:
				report("push.batch_source", "unknown source %q%s", s.BatchSource, hint(s.BatchSource, v.ix.Names(KindSource)))
			case b.Kind != SourceParquet:
				report("push.batch_source", "source %q is a %s source; a batch source must be a Parquet source", s.BatchSource, b.Kind)
			}
		}
	default:
		report("", "missing source kind: set parquet { path: ... } or push { }")
	}
	if s.TimestampColumn == "" {
		report("timestamp_column", "missing event timestamp column")
	} else if err := checkColumnName(s.TimestampColumn); err != nil {
		report("timestamp_column", "%v", err)
	}
	if s.CreatedTimestampColumn != "" {
		if err := checkColumnName(s.CreatedTimestampColumn); err != nil {
			report("created_timestamp_column", "%v", err)
		} else if s.CreatedTimestampColumn == s.TimestampColumn {
			report("created_timestamp_column", "is the same column as timestamp_column %q", s.TimestampColumn)
		}
	}
	seen := map[string]bool{}
	for i, f := range s.Schema {
		field := fmt.Sprintf("schema[%d]", i)
		if err := checkColumnName(f.Name); err != nil {
			report(field+".name", "%v", err)
		} else if seen[f.Name] {
			report(field+".name", "duplicate column %q", f.Name)
		}
		seen[f.Name] = true
		if !f.Type.Valid() {
			report(field+".type", "missing type for column %q", f.Name)
		} else if f.AllowNonFinite && f.Type != Double {
			report(field+".allow_non_finite", "column %q is %s; only DOUBLE columns hold non-finite values", f.Name, f.Type)
		}
	}
	if len(s.Schema) > 0 {
		for _, c := range []struct{ field, col string }{
			{"timestamp_column", s.TimestampColumn},
			{"created_timestamp_column", s.CreatedTimestampColumn},
		} {
			if c.col == "" {
				continue
			}
			f, ok := s.Column(c.col)
			if !ok {
				report(c.field, "column %q is not in the declared schema%s", c.col, hint(c.col, schemaNames(s)))
			} else if f.Type.Valid() && f.Type != Timestamp && f.Type != Int64 {
				report(c.field, "column %q is %s; timestamps are TIMESTAMP or INT64 microseconds", c.col, f.Type)
			}
		}
	}
}

func schemaNames(s *Source) []string {
	names := make([]string, len(s.Schema))
	for i, f := range s.Schema {
		names[i] = f.Name
	}
	return names
}

// checkDuration checks a duration is a whole number of microseconds and not
// negative (positive when positive is set).
func checkDuration(report reporter, field string, d time.Duration, positive bool) bool {
	switch {
	case d < 0:
		report(field, "duration %s is negative", FormatDuration(d))
	case positive && d == 0:
		report(field, "missing duration: must be positive")
	case d%time.Microsecond != 0:
		report(field, "duration %s is not a whole number of microseconds (fstore's time precision)", d)
	default:
		return true
	}
	return false
}

func (v *validator) featureView(fv *FeatureView, report reporter) {
	if len(fv.Entities) == 0 {
		report("entities", "a feature view needs at least one entity")
	}
	keys := map[string]string{} // join key -> entity
	seenEntity := map[string]bool{}
	for i, name := range fv.Entities {
		field := fmt.Sprintf("entities[%d]", i)
		e := v.ix.Entity(name)
		if e == nil {
			report(field, "unknown entity %q%s", name, hint(name, v.ix.Names(KindEntity)))
			continue
		}
		if seenEntity[name] {
			report(field, "entity %q is listed twice", name)
			continue
		}
		seenEntity[name] = true
		for _, k := range e.JoinKeys {
			if other, dup := keys[k.Name]; dup && other != name {
				report(field, "entities %q and %q both have join key %q; a view's key columns must be distinct", other, name, k.Name)
			}
			keys[k.Name] = name
		}
	}
	src := v.ix.Source(fv.Source)
	switch {
	case fv.Source == "":
		report("source", "missing source")
	case src == nil:
		report("source", "unknown source %q%s", fv.Source, hint(fv.Source, v.ix.Names(KindSource)))
	case len(src.Schema) > 0:
		for _, name := range fv.Entities {
			e := v.ix.Entity(name)
			if e == nil {
				continue
			}
			for _, k := range e.JoinKeys {
				col, ok := src.Column(k.Name)
				if !ok {
					report("source", "source %q has no column %q for the join key of entity %q%s", src.Name, k.Name, name, hint(k.Name, schemaNames(src)))
				} else if col.Type.Valid() && k.Type.Valid() && col.Type != k.Type {
					report("source", "source %q column %q is %s but entity %q's join key is %s", src.Name, k.Name, col.Type, name, k.Type)
				}
			}
		}
	}
	checkDuration(report, "ttl", fv.TTL, false)
	checkDuration(report, "max_freshness_lag", fv.MaxFreshnessLag, false)
	if len(fv.Features)+len(fv.Aggregations) == 0 {
		report("", "a feature view needs at least one feature or aggregation")
	}
	names := map[string]bool{}
	checkFeatureName := func(field, name string) {
		if err := CheckName(name); err != nil {
			report(field, "%v", err)
			return
		}
		if strings.Contains(name, "__") {
			report(field, "feature name %q may not contain \"__\" (it separates view and feature in training-set columns)", name)
		}
		if names[name] {
			report(field, "duplicate feature name %q", name)
		}
		names[name] = true
	}
	for i, f := range fv.Features {
		field := fmt.Sprintf("features[%d]", i)
		checkFeatureName(field+".name", f.Name)
		if !f.Type.Valid() {
			report(field+".type", "missing type for feature %q", f.Name)
		}
		checkExpect(report, field+".expect", f.Expect, f.Type, f.Type.Valid())
		if f.Expr == "" && src != nil && len(src.Schema) > 0 {
			if _, ok := src.Column(f.Name); !ok {
				report(field+".expr", "no expression and source %q has no column %q%s", src.Name, f.Name, hint(f.Name, schemaNames(src)))
			}
		}
	}
	for i, a := range fv.Aggregations {
		field := fmt.Sprintf("aggregations[%d]", i)
		checkFeatureName(field+".name", a.Name)
		if !a.Func.Valid() {
			report(field+".function", "missing function: COUNT, SUM, MEAN, MIN, MAX, LAST or STDDEV")
		}
		checkExpect(report, field+".expect", a.Expect, 0, false)
		if a.Expr == "" && a.Func != Count && a.Func.Valid() {
			report(field+".expr", "missing expression: only COUNT may omit it")
		}
		okW := checkDuration(report, field+".window", a.Window, true)
		okH := okW
		if a.Hop != a.Window {
			// An unset hop is the window; its problems are the window's.
			okH = checkDuration(report, field+".hop", a.Hop, true)
		}
		if okW && okH {
			switch {
			case a.Window%a.Hop != 0:
				report(field+".window", "window %s is not a multiple of hop %s", FormatDuration(a.Window), FormatDuration(a.Hop))
			case a.Window/a.Hop > MaxTilesPerWindow:
				report(field+".hop", "window %s / hop %s is %d tiles, more than %d", FormatDuration(a.Window), FormatDuration(a.Hop), a.Window/a.Hop, MaxTilesPerWindow)
			}
		}
	}
}

func (v *validator) onDemandView(od *OnDemandFeatureView, report reporter) {
	seen := map[string]bool{}
	for i, f := range od.RequestFields {
		field := fmt.Sprintf("request_fields[%d]", i)
		if err := CheckName(f.Name); err != nil {
			report(field+".name", "%v", err)
		} else if seen[f.Name] {
			report(field+".name", "duplicate request field %q", f.Name)
		}
		seen[f.Name] = true
		if !f.Type.Valid() {
			report(field+".type", "missing type for request field %q", f.Name)
		}
	}
	for i, in := range od.Inputs {
		field := fmt.Sprintf("inputs[%d]", i)
		r, err := ParseFeatureRef(in)
		if err != nil {
			report(field, "%v", err)
			continue
		}
		if v.ix.OnDemandView(r.View) != nil {
			report(field, "input %q is an on-demand feature view; inputs must be feature views", in)
			continue
		}
		if _, err := v.ix.ExpandRefs([]string{in}); err != nil {
			report(field, "%v", err)
		}
	}
	if len(od.Features) == 0 {
		report("features", "an on-demand feature view needs at least one feature")
	}
	names := map[string]bool{}
	for i, f := range od.Features {
		field := fmt.Sprintf("features[%d]", i)
		if err := CheckName(f.Name); err != nil {
			report(field+".name", "%v", err)
		} else if strings.Contains(f.Name, "__") {
			report(field+".name", "feature name %q may not contain \"__\"", f.Name)
		} else if names[f.Name] {
			report(field+".name", "duplicate feature name %q", f.Name)
		}
		names[f.Name] = true
		if !f.Type.Valid() {
			report(field+".type", "missing type for feature %q", f.Name)
		}
		if f.Expr == "" {
			report(field+".expr", "missing expression: on-demand features are computed, not read")
		}
		checkExpect(report, field+".expect", f.Expect, f.Type, f.Type.Valid())
	}
}

func (v *validator) featureService(s *FeatureService, report reporter) {
	if len(s.Features) == 0 {
		report("features", "a feature service needs at least one feature reference")
	}
	for i, ref := range s.Features {
		if _, err := v.ix.ExpandRefs([]string{ref}); err != nil {
			report(fmt.Sprintf("features[%d]", i), "%v", err)
		}
	}
	// Duplicates across references (a:x and a:*) are reported once, for the
	// whole list, only when every reference resolves on its own.
	if _, err := v.ix.ExpandRefs(s.Features); err != nil && !v.broken[s] {
		report("features", "%v", err)
	}
	if r := s.Logging.SampleRate; math.IsNaN(r) || r < 0 || r > 1 {
		report("logging.sample_rate", "sample rate %v is not in [0, 1]", r)
	}
	v.monitoring(s, report)
}

func (v *validator) model(m *Model, report reporter) {
	switch {
	case m.FeatureService == "":
		report("feature_service", "missing feature service: a model's inputs are a feature service")
	case v.ix.FeatureService(m.FeatureService) == nil:
		report("feature_service", "unknown feature service %q%s", m.FeatureService, hint(m.FeatureService, v.ix.Names(KindFeatureService)))
	}
}

func (v *validator) endpoint(e *Endpoint, report reporter) {
	switch {
	case e.Model == "":
		report("model", "missing model")
	case v.ix.Model(e.Model) == nil:
		report("model", "unknown model %q%s", e.Model, hint(e.Model, v.ix.Names(KindModel)))
	}
	r := e.Routing
	if r.Champion == 0 {
		report("routing.champion", "missing champion version")
	}
	total := 0.0
	for i, c := range r.Challengers {
		field := fmt.Sprintf("routing.challengers[%d]", i)
		if c.Version == 0 {
			report(field+".version", "missing version")
		}
		if math.IsNaN(c.Weight) || c.Weight <= 0 || c.Weight > 1 {
			report(field+".weight", "weight %v is not in (0, 1]", c.Weight)
		} else {
			total += c.Weight
		}
	}
	if total > 1+1e-9 {
		report("routing.challengers", "weights add up to %.4g, more than 1", total)
	}
}

// FormatDuration formats d like time.Duration.String without zero units, and
// whole days from two days up as days: "1h", "24h", "1h30m", "1m30s",
// "1.5s", "7d".
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= 2*day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
