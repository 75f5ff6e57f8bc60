package compute

import (
	"fmt"

	"github.com/fstore/fstore/featurestore/def"
)

// SourceSchema returns the columns of a source that fstore can read: its
// declared schema when it has one, else the schema of its first Parquet
// file. unsupported maps the file's other columns to why fstore cannot read
// them.
func SourceSchema(src *def.Source) (fields []def.Field, unsupported map[string]string, err error) {
	if src == nil {
		return nil, nil, fmt.Errorf("%w: no source", ErrPlan)
	}
	if len(src.Schema) > 0 {
		return src.Schema, nil, nil
	}
	if src.Kind != def.SourceParquet {
		return nil, nil, fmt.Errorf("%w: source %q declares no schema", ErrPlan, src.Name)
	}
	cols, err := ParquetSchema(src.Path)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range cols {
		if c.Unsupported != "" {
			if unsupported == nil {
				unsupported = map[string]string{}
			}
			unsupported[c.Name] = c.Unsupported
			continue
		}
		fields = append(fields, def.Field{Name: c.Name, Type: c.Type})
	}
	return fields, unsupported, nil
}

// Checker type-checks feature views and on-demand views for the registry
// (it implements def.Checker): every expression, filter and aggregation
// compiles against its source's columns, and every feature's type fits.
// Source schemas come from declarations or Parquet footers. A Checker keeps
// no state between calls, so one can serve a registry for its lifetime and
// always sees the files as they are now.
type Checker struct{}

type sourceCols struct {
	fields      []def.Field
	unsupported map[string]string
	err         error
}

// NewChecker returns a Checker.
func NewChecker() *Checker { return &Checker{} }

func (c *Checker) schema(src *def.Source) sourceCols {
	f, u, err := SourceSchema(src)
	return sourceCols{f, u, err}
}

// CheckFeatureView implements def.Checker.
func (c *Checker) CheckFeatureView(ix *def.Index, v *def.FeatureView, report func(string, error)) {
	src := ix.Source(v.Source)
	if src == nil {
		report("source", fmt.Errorf("%w: unknown source %q", ErrPlan, v.Source))
		return
	}
	s := c.schema(src)
	if s.err != nil {
		report("source", fmt.Errorf("cannot read the columns of source %q: %v (declare its schema to apply definitions before the data exists)", src.Name, s.err))
		return
	}
	compileView(ix, v, s.fields, s.unsupported, report)
}

// CheckOnDemandView implements def.Checker.
func (c *Checker) CheckOnDemandView(ix *def.Index, v *def.OnDemandFeatureView, report func(string, error)) {
	outputs := func(view string) ([]def.Field, error) {
		fv := ix.FeatureView(view)
		if fv == nil {
			return nil, fmt.Errorf("%w: unknown feature view %q", ErrPlan, view)
		}
		s := c.schema(ix.Source(fv.Source))
		if s.err != nil {
			return nil, s.err
		}
		var first error
		p := compileView(ix, fv, s.fields, s.unsupported, func(_ string, err error) {
			if first == nil {
				first = err
			}
		})
		if p == nil {
			return nil, fmt.Errorf("it does not compile: %v", first)
		}
		return p.Outputs, nil
	}
	compileOnDemand(ix, v, outputs, report)
}

var _ def.Checker = (*Checker)(nil)
