package compute

import (
	"fmt"
	"sort"

	"github.com/fstore/fstore/featurestore/def"
)

// Feature is one compiled plain or on-demand feature.
type Feature struct {
	Name string
	Type def.ValueType
	Expr *Expr
}

// ViewPlan is a feature view compiled against its source's columns. It is
// immutable and safe for concurrent use; evaluate through a ViewEvaluator.
type ViewPlan struct {
	View   *def.FeatureView
	Source *def.Source
	// Input lays out the source columns the plan reads (its Parquet
	// projection), in source order: the join keys, the timestamp columns
	// and every column an expression uses. Batches given to evaluators
	// follow it.
	Input *Schema
	// Keys are the indexes in Input of the view's join keys, in key order.
	Keys []int
	// Timestamp and Created index the event and creation timestamp
	// columns in Input; Created is -1 when the source has none.
	Timestamp, Created int
	// Filter selects rows; nil when the view has none.
	Filter   *Expr
	Features []*Feature
	Aggs     []*Agg
	// Outputs are the view's feature outputs: features, then aggregations.
	Outputs []def.Field
	// TTL is the view's time to live in microseconds; 0 means none.
	TTL int64
	// Expect holds the view's data-quality gates compiled against Outputs
	// (expect.go); never nil for a compiled plan, possibly Empty.
	Expect *Expectations
	// ExpectInput holds, per aggregation (output i is Aggs[i], typed by
	// its input), the row rules that hold event by event (InputGate), for
	// checking events before they are aggregated.
	ExpectInput *Expectations
}

// reporter receives one problem at a field path of a definition.
type reporter func(field string, err error)

// CompileView compiles v against the columns of its source. The error, if
// any, is a *PlanError naming the field of the first problem.
func CompileView(ix *def.Index, v *def.FeatureView, source []def.Field) (*ViewPlan, error) {
	var first error
	p := compileView(ix, v, source, nil, func(field string, err error) {
		if first == nil {
			first = &PlanError{Object: v.Name, Field: field, Err: err}
		}
	})
	if first != nil {
		return nil, first
	}
	return p, nil
}

// OfflineSource returns the source a view's history is read from: its own
// Parquet source, or the batch source of its push source. Backfill and
// materialisation both read history through it.
func OfflineSource(ix *def.Index, v *def.FeatureView) (*def.Source, error) {
	src := ix.Source(v.Source)
	if src == nil {
		return nil, fmt.Errorf("%w: view %q: unknown source %q", ErrPlan, v.Name, v.Source)
	}
	if src.Kind != def.SourcePush {
		return src, nil
	}
	if src.BatchSource == "" {
		return nil, fmt.Errorf("%w: view %q reads push source %q, which has no batch source holding its history", ErrNoHistory, v.Name, src.Name)
	}
	b := ix.Source(src.BatchSource)
	if b == nil {
		return nil, fmt.Errorf("%w: push source %q: unknown batch source %q", ErrPlan, src.Name, src.BatchSource)
	}
	return b, nil
}

// CompileOffline compiles v against the columns of its offline source
// (OfflineSource), read from its declared schema or its Parquet footer.
// Columns fstore cannot read are reported as such when an expression uses
// them.
func CompileOffline(ix *def.Index, v *def.FeatureView) (*ViewPlan, error) {
	src, err := OfflineSource(ix, v)
	if err != nil {
		return nil, err
	}
	fields, unsupported, err := SourceSchema(src)
	if err != nil {
		return nil, &PlanError{Object: v.Name, Field: "source", Err: fmt.Errorf("source %q: %w", src.Name, err)}
	}
	var first error
	p := compileViewFrom(ix, v, src, fields, unsupported, func(field string, err error) {
		if first == nil {
			first = &PlanError{Object: v.Name, Field: field, Err: err}
		}
	})
	if first != nil {
		return nil, first
	}
	return p, nil
}

// PlanError is a problem at a field of a definition. It unwraps to the
// expression or plan error.
type PlanError struct {
	Object, Field string
	Err           error
}

func (e *PlanError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Object, e.Field, e.Err) }
func (e *PlanError) Unwrap() error { return e.Err }

func compileView(ix *def.Index, v *def.FeatureView, source []def.Field, unsupported map[string]string, report reporter) *ViewPlan {
	return compileViewFrom(ix, v, ix.Source(v.Source), source, unsupported, report)
}

// compileViewFrom compiles v reading src, which is v's source or, offline,
// the batch source of its push source.
func compileViewFrom(ix *def.Index, v *def.FeatureView, src *def.Source, source []def.Field, unsupported map[string]string, report reporter) *ViewPlan {
	if src == nil {
		report("source", fmt.Errorf("%w: unknown source %q", ErrPlan, v.Source))
		return nil
	}
	full, err := NewSchema(source)
	if err != nil {
		report("source", err)
		return nil
	}
	full.unsupported = unsupported
	p := &ViewPlan{View: v, Source: src, TTL: v.TTL.Microseconds(), Created: -1}

	// Which source columns the plan needs.
	need := map[int]bool{}
	col := func(field, name string, ok func(def.ValueType) bool, want string) {
		i, found := full.Lookup(name)
		switch {
		case !found:
			report(field, fmt.Errorf("%w: source %q has no column %q%s", ErrPlan, src.Name, name, full.hint(name)))
		case !ok(full.Fields[i].Type):
			report(field, fmt.Errorf("%w: source %q column %q is %s, want %s", ErrPlan, src.Name, name, full.Fields[i].Type, want))
		default:
			need[i] = true
		}
	}
	isTime := func(t def.ValueType) bool { return t == def.Timestamp || t == def.Int64 }
	col("source", src.TimestampColumn, isTime, "TIMESTAMP or INT64 microseconds")
	if src.CreatedTimestampColumn != "" {
		col("source", src.CreatedTimestampColumn, isTime, "TIMESTAMP or INT64 microseconds")
	}
	var keyNames []string
	for _, en := range v.Entities {
		e := ix.Entity(en)
		if e == nil {
			report("entities", fmt.Errorf("%w: unknown entity %q", ErrPlan, en))
			return nil
		}
		for _, k := range e.JoinKeys {
			kt := k.Type
			col("entities", k.Name, func(t def.ValueType) bool { return t == kt }, kt.String()+" (the join key's type)")
			keyNames = append(keyNames, k.Name)
		}
	}
	compileIn := func(field, src string) *Expr {
		e, err := Compile(src, full)
		if err != nil {
			report(field, err)
			return nil
		}
		for _, c := range e.Columns {
			need[c] = true
		}
		return e
	}
	if v.Filter != "" {
		if e := compileIn("filter", v.Filter); e != nil && e.Type != def.Bool {
			report("filter", &ExprError{Expr: v.Filter, Msg: fmt.Sprintf("a filter must be BOOL, the expression is %s", e.Type)})
		}
	}
	for i, f := range v.Features {
		field := fmt.Sprintf("features[%d].expr", i)
		if e := compileIn(field, f.Expression()); e != nil {
			if err := checkFeatureType(e, f.Type); err != nil {
				report(field, err)
			}
		}
	}
	for i, a := range v.Aggregations {
		if a.Expr != "" {
			compileIn(fmt.Sprintf("aggregations[%d].expr", i), a.Expr)
		}
	}

	// Recompile everything against the projected schema, whose column
	// indexes are what batches carry.
	var idx []int
	for i := range need {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	fields := make([]def.Field, len(idx))
	for j, i := range idx {
		fields[j] = full.Fields[i]
	}
	in, err := NewSchema(fields)
	if err != nil {
		report("source", err)
		return nil
	}
	p.Input = in
	for _, k := range keyNames {
		i, _ := in.Lookup(k)
		p.Keys = append(p.Keys, i)
	}
	p.Timestamp, _ = in.Lookup(src.TimestampColumn)
	if src.CreatedTimestampColumn != "" {
		p.Created, _ = in.Lookup(src.CreatedTimestampColumn)
	}
	ok := true
	must := func(field, s string) *Expr {
		e, err := Compile(s, in)
		if err != nil {
			// Already reported against the full schema.
			ok = false
		}
		return e
	}
	if v.Filter != "" {
		p.Filter = must("filter", v.Filter)
	}
	for _, f := range v.Features {
		e := must("", f.Expression())
		if e != nil {
			e = e.convertTo(f.Type)
		}
		p.Features = append(p.Features, &Feature{Name: f.Name, Type: f.Type, Expr: e})
		p.Outputs = append(p.Outputs, def.Field{Name: f.Name, Type: f.Type})
	}
	for i, a := range v.Aggregations {
		g, err := NewAgg(a, in)
		if err != nil {
			report(fmt.Sprintf("aggregations[%d]", i), err)
			ok = false
			continue
		}
		p.Aggs = append(p.Aggs, g)
		p.Outputs = append(p.Outputs, def.Field{Name: a.Name, Type: g.Out})
	}
	if !ok {
		return nil
	}
	compileExpectations(p, report)
	return p
}

// checkFeatureType reports an expression whose type does not fit the
// feature's declared type. INT64 widens to DOUBLE; nothing else converts
// implicitly.
func checkFeatureType(e *Expr, want def.ValueType) error {
	if e.Type == want || (want == def.Double && e.Type == def.Int64) {
		return nil
	}
	hint := ""
	if f := castName(want); f != "" {
		hint = fmt.Sprintf(": convert it with %s(...)", f)
	}
	return &ExprError{Expr: e.Source, Msg: fmt.Sprintf("the expression is %s but the feature is declared %s%s", e.Type, want, hint)}
}

func castName(t def.ValueType) string {
	for name, f := range functions {
		if castFuncs[t] == f && name != "double" {
			return name
		}
	}
	return ""
}

// convertTo returns e with its result converted to t (INT64 → DOUBLE).
func (e *Expr) convertTo(t def.ValueType) *Expr {
	if e.Type == t {
		return e
	}
	c := *e
	c.root = promote(e.root, t)
	c.Type = c.root.typ
	c.nodes = number(c.root, 0)
	return &c
}

// ViewEvaluator evaluates a view plan's expressions over batches laid out
// by the plan's Input. Not safe for concurrent use; make one per goroutine.
type ViewEvaluator struct {
	p        *ViewPlan
	filter   *Evaluator
	features []*Evaluator
	aggs     []*Evaluator
}

// NewEvaluator returns an evaluator of p.
func (p *ViewPlan) NewEvaluator() *ViewEvaluator {
	ev := &ViewEvaluator{p: p}
	if p.Filter != nil {
		ev.filter = p.Filter.NewEvaluator()
	}
	for _, f := range p.Features {
		ev.features = append(ev.features, f.Expr.NewEvaluator())
	}
	for _, g := range p.Aggs {
		var e *Evaluator
		if g.Expr != nil {
			e = g.Expr.NewEvaluator()
		}
		ev.aggs = append(ev.aggs, e)
	}
	return ev
}

// Filter returns the filter's result over b, or nil when the view has no
// filter. Rows where it is false or null are not events of the view.
func (ev *ViewEvaluator) Filter(b *Batch) *Column {
	if ev.filter == nil {
		return nil
	}
	return ev.filter.Eval(b)
}

// Feature returns feature i's values over b.
func (ev *ViewEvaluator) Feature(i int, b *Batch) *Column { return ev.features[i].Eval(b) }

// AggInput returns the values aggregation i aggregates over b, or nil for
// a COUNT of events.
func (ev *ViewEvaluator) AggInput(i int, b *Batch) *Column {
	if ev.aggs[i] == nil {
		return nil
	}
	return ev.aggs[i].Eval(b)
}

// Keep reports whether row passes the filter result f (nil: every row).
func Keep(f *Column, row int) bool { return f == nil || (f.B[row] && f.Valid.Get(row)) }

// OnDemandPlan is an on-demand feature view compiled against its request
// fields and input features.
type OnDemandPlan struct {
	View *def.OnDemandFeatureView
	// Input lays out the request fields, then the input features, named
	// "view.feature" as expressions read them.
	Input    *Schema
	Features []*Feature
	Outputs  []def.Field
	// Inputs are the expanded input feature references, in Input order
	// after the request fields.
	Inputs []def.FeatureRef
}

// CompileOnDemand compiles an on-demand view. outputs returns the output
// fields of the input feature views (ViewPlan.Outputs).
func CompileOnDemand(ix *def.Index, v *def.OnDemandFeatureView, outputs func(view string) ([]def.Field, error)) (*OnDemandPlan, error) {
	var first error
	p := compileOnDemand(ix, v, outputs, func(field string, err error) {
		if first == nil {
			first = &PlanError{Object: v.Name, Field: field, Err: err}
		}
	})
	if first != nil {
		return nil, first
	}
	return p, nil
}

func compileOnDemand(ix *def.Index, v *def.OnDemandFeatureView, outputs func(string) ([]def.Field, error), report reporter) *OnDemandPlan {
	fields := append([]def.Field(nil), v.RequestFields...)
	refs, err := ix.ExpandRefs(v.Inputs)
	if err != nil {
		report("inputs", err)
		return nil
	}
	for _, r := range refs {
		outs, err := outputs(r.View)
		if err != nil {
			report("inputs", fmt.Errorf("input view %q: %w", r.View, err))
			return nil
		}
		found := false
		for _, o := range outs {
			if o.Name == r.Feature {
				fields = append(fields, def.Field{Name: r.View + "." + r.Feature, Type: o.Type})
				found = true
			}
		}
		if !found {
			report("inputs", fmt.Errorf("%w: view %q has no output %q", ErrPlan, r.View, r.Feature))
			return nil
		}
	}
	in, err := NewSchema(fields)
	if err != nil {
		report("request_fields", err)
		return nil
	}
	p := &OnDemandPlan{View: v, Input: in, Inputs: refs}
	ok := true
	for i, f := range v.Features {
		field := fmt.Sprintf("features[%d].expr", i)
		e, err := Compile(f.Expr, in)
		if err != nil {
			report(field, err)
			ok = false
			continue
		}
		if err := checkFeatureType(e, f.Type); err != nil {
			report(field, err)
			ok = false
			continue
		}
		p.Features = append(p.Features, &Feature{Name: f.Name, Type: f.Type, Expr: e.convertTo(f.Type)})
		p.Outputs = append(p.Outputs, def.Field{Name: f.Name, Type: f.Type})
	}
	if !ok {
		return nil
	}
	return p
}

// OnDemandEvaluator evaluates an on-demand plan. Not safe for concurrent
// use.
type OnDemandEvaluator struct {
	features []*Evaluator
}

// NewEvaluator returns an evaluator of p.
func (p *OnDemandPlan) NewEvaluator() *OnDemandEvaluator {
	ev := &OnDemandEvaluator{}
	for _, f := range p.Features {
		ev.features = append(ev.features, f.Expr.NewEvaluator())
	}
	return ev
}

// Feature returns on-demand feature i over b, laid out by the plan's Input.
func (ev *OnDemandEvaluator) Feature(i int, b *Batch) *Column { return ev.features[i].Eval(b) }

// Plans are every view of a registry version, compiled.
type Plans struct {
	Views    map[string]*ViewPlan
	OnDemand map[string]*OnDemandPlan
}

// CompileAll compiles every feature view and on-demand view of ix, reading
// source schemas with SourceSchema.
func CompileAll(ix *def.Index) (*Plans, error) {
	ps := &Plans{Views: map[string]*ViewPlan{}, OnDemand: map[string]*OnDemandPlan{}}
	schemas := map[*def.Source]sourceCols{}
	for _, v := range ix.Defs.FeatureViews {
		src := ix.Source(v.Source)
		s, ok := schemas[src]
		if !ok {
			f, u, err := SourceSchema(src)
			s = sourceCols{f, u, err}
			schemas[src] = s
		}
		if s.err != nil {
			return nil, &PlanError{Object: v.Name, Field: "source", Err: s.err}
		}
		var first error
		p := compileView(ix, v, s.fields, s.unsupported, func(field string, err error) {
			if first == nil {
				first = &PlanError{Object: v.Name, Field: field, Err: err}
			}
		})
		if first != nil {
			return nil, first
		}
		ps.Views[v.Name] = p
	}
	for _, v := range ix.Defs.OnDemandViews {
		p, err := CompileOnDemand(ix, v, func(view string) ([]def.Field, error) {
			if vp := ps.Views[view]; vp != nil {
				return vp.Outputs, nil
			}
			return nil, fmt.Errorf("%w: unknown feature view %q", ErrPlan, view)
		})
		if err != nil {
			return nil, err
		}
		ps.OnDemand[v.Name] = p
	}
	return ps, nil
}
