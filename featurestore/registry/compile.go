package registry

import (
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// Compile turns protobuf definitions into engine definitions, checks what
// only the protobuf form can show (malformed durations), and validates the
// result with checker (nil skips expression checks). origins, from
// LoadFiles, locates objects in their files; it may be nil.
func Compile(p *fstorev1.Definitions, origins map[string]string, checker def.Checker) (*def.Definitions, error) {
	d := ToDef(p)
	setOrigins(d, origins)
	var problems []def.Problem
	malformedFields := map[string]map[string]bool{}
	for i, v := range p.GetFeatureViews() {
		malformed := map[string]bool{}
		check := func(field string, dur *durationpb.Duration) {
			if dur == nil {
				return
			}
			if dur.CheckValid() != nil {
				malformed[field] = true
				problems = append(problems, def.Problem{
					Origin: d.FeatureViews[i].Origin, Kind: def.KindFeatureView, Object: v.GetName(),
					Field: field, Msg: fmt.Sprintf("malformed duration {seconds: %d nanos: %d}: nanos must be within ±999999999 and have the sign of seconds", dur.GetSeconds(), dur.GetNanos()),
				})
			}
		}
		check("ttl", v.GetTtl())
		for j, a := range v.GetAggregations() {
			check(fmt.Sprintf("aggregations[%d].window", j), a.GetWindow())
			check(fmt.Sprintf("aggregations[%d].hop", j), a.GetHop())
		}
		if len(malformed) > 0 {
			// Validation would report the same fields again, as whatever
			// AsDuration made of them; only the first report is kept.
			malformedFields[v.GetName()] = malformed
		}
	}
	if err := def.Validate(d, checker); err != nil {
		ve := err.(*def.ValidationError)
		for _, pr := range ve.Problems {
			if pr.Kind == def.KindFeatureView && malformedFields[pr.Object][pr.Field] {
				continue
			}
			problems = append(problems, pr)
		}
		if len(problems) > def.MaxProblems {
			ve.Truncated += len(problems) - def.MaxProblems
			problems = problems[:def.MaxProblems]
		}
		return nil, &def.ValidationError{Problems: problems, Truncated: ve.Truncated}
	}
	if len(problems) > 0 {
		return nil, &def.ValidationError{Problems: problems}
	}
	return d, nil
}

// setOrigins copies "file:line" locations (keyed "field/index" by
// LoadFiles) onto the objects.
func setOrigins(d *def.Definitions, origins map[string]string) {
	if origins == nil {
		return
	}
	set := func(field string, i int, m *def.Meta) {
		if o, ok := origins[fmt.Sprintf("%s/%d", field, i)]; ok {
			m.Origin = o
		}
	}
	for i, o := range d.Entities {
		set("entities", i, &o.Meta)
	}
	for i, o := range d.Sources {
		set("sources", i, &o.Meta)
	}
	for i, o := range d.FeatureViews {
		set("feature_views", i, &o.Meta)
	}
	for i, o := range d.OnDemandViews {
		set("on_demand_feature_views", i, &o.Meta)
	}
	for i, o := range d.FeatureServices {
		set("feature_services", i, &o.Meta)
	}
	for i, o := range d.Models {
		set("models", i, &o.Meta)
	}
	for i, o := range d.Endpoints {
		set("endpoints", i, &o.Meta)
	}
}
