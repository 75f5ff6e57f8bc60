package featurestore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/encoding"
)

// OnlineView is a feature view compiled for the online state: how its
// entities are keyed and its values laid out, and the plans that produce
// them. Materialisation, push and reads all go through one OnlineView, so
// they agree on every byte.
type OnlineView struct {
	Name string
	// ID prefixes the view's keys: a hash of the name, so that keys never
	// hold names and every process computes the same id without
	// coordination. OnlineViews rejects a registry version where two views
	// collide.
	ID uint32
	// Layout is the value layout; Layout.SchemaVersion hashes everything
	// that decides stored bytes (keys, timestamps, filter, features,
	// aggregations, history source), so that a changed definition never
	// misreads old values and materialisation knows to rebuild.
	Layout   encoding.Layout
	KeyNames []string
	KeyTypes []def.ValueType
	// TTL in microseconds; 0: none.
	TTL int64
	// Outputs are the view's features, then its aggregations.
	Outputs []def.Field
	// Aggs are the compiled aggregations (identical in both plans).
	Aggs []*compute.Agg
	// History is the plan over the view's offline history (its Parquet
	// source, or its push source's batch source); nil for a push source
	// without one, or when its files cannot be read now (HistoryErr).
	History    *compute.ViewPlan
	HistoryErr error
	// Push is the plan over pushed events, laid out by the push source's
	// declared schema; nil unless the view reads a push source.
	Push *compute.ViewPlan
}

// CompileOnline compiles v for the online state.
func CompileOnline(ix *def.Index, v *def.FeatureView) (*OnlineView, error) {
	ov := &OnlineView{Name: v.Name, ID: ViewID(v.Name), TTL: v.TTL.Microseconds()}
	src := ix.Source(v.Source)
	if src == nil {
		return nil, fmt.Errorf("featurestore: view %q: unknown source %q", v.Name, v.Source)
	}
	if src.Kind == def.SourcePush {
		p, err := compute.CompileView(ix, v, src.Schema)
		if err != nil {
			return nil, err
		}
		ov.Push = p
	}
	hist, err := compute.CompileOffline(ix, v)
	switch {
	case err == nil:
		ov.History = hist
	case ov.Push != nil:
		ov.HistoryErr = err // pushes still work
	default:
		return nil, undeclaredSchemaHint(err, src)
	}
	p := ov.History
	if p == nil {
		p = ov.Push
	}
	if ov.History != nil && ov.Push != nil {
		if err := samePlanTypes(ov.History, ov.Push); err != nil {
			return nil, fmt.Errorf("featurestore: view %q: %w", v.Name, err)
		}
	}
	for _, k := range p.Keys {
		f := p.Input.Fields[k]
		if f.Type != def.Int64 && f.Type != def.String {
			return nil, fmt.Errorf("featurestore: view %q: join key %q is %s; online keys are INT64 or STRING", v.Name, f.Name, f.Type)
		}
		ov.KeyNames = append(ov.KeyNames, f.Name)
		ov.KeyTypes = append(ov.KeyTypes, f.Type)
	}
	ov.Outputs = p.Outputs
	ov.Aggs = p.Aggs
	for _, f := range p.Features {
		ov.Layout.Features = append(ov.Layout.Features, f.Type)
	}
	for _, g := range p.Aggs {
		ov.Layout.Aggs = append(ov.Layout.Aggs, encoding.AggLayout{Func: g.Func, In: g.In})
	}
	ov.Layout.SchemaVersion = schemaVersion(ix, v, p)
	return ov, nil
}

// undeclaredSchemaHint adds to err, when it is a Parquet source's files
// that could not be read for their schema, how a process without them (a
// serving replica) can still compile the view: the online plan needs only
// the source's column types, which a declared schema gives.
func undeclaredSchemaHint(err error, src *def.Source) error {
	var pe *compute.PlanError
	if src.Kind != def.SourceParquet || len(src.Schema) > 0 || !errors.As(err, &pe) || pe.Field != "source" {
		return err
	}
	return fmt.Errorf("%w (a process without the source's files, such as a serving replica, needs its columns declared: schema { name: ... type: ... } in source %q)", err, src.Name)
}

// samePlanTypes checks that the push and history plans produce the same
// types, so that one layout serves both.
func samePlanTypes(a, b *compute.ViewPlan) error {
	for i := range a.Features {
		if a.Features[i].Type != b.Features[i].Type {
			return fmt.Errorf("feature %q is %s from the batch source but %s from the push source", a.Features[i].Name, a.Features[i].Type, b.Features[i].Type)
		}
	}
	for i := range a.Aggs {
		if a.Aggs[i].In != b.Aggs[i].In {
			return fmt.Errorf("aggregation %q aggregates %s from the batch source but %s from the push source", a.Aggs[i].Name, a.Aggs[i].In, b.Aggs[i].In)
		}
	}
	for i, k := range a.Keys {
		if a.Input.Fields[k].Type != b.Input.Fields[b.Keys[i]].Type {
			return fmt.Errorf("join key %q is %s in the batch source but %s in the push source", a.Input.Fields[k].Name, a.Input.Fields[k].Type, b.Input.Fields[b.Keys[i]].Type)
		}
	}
	return nil
}

// ViewID is the key prefix id of a view name: FNV-1a of "view:"+name.
func ViewID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte("view:" + name))
	return h.Sum32()
}

// schemaVersion hashes what decides a view's stored bytes.
func schemaVersion(ix *def.Index, v *def.FeatureView, p *compute.ViewPlan) uint32 {
	var b strings.Builder
	w := func(parts ...string) {
		for _, s := range parts {
			b.WriteString(strconv.Quote(s))
		}
		b.WriteByte('\n')
	}
	w("format", strconv.Itoa(int(encoding.FormatV1)))
	for _, k := range p.Keys {
		w("key", p.Input.Fields[k].Name, p.Input.Fields[k].Type.String())
	}
	w("ts", p.Input.Fields[p.Timestamp].Name)
	if p.Created >= 0 {
		w("created", p.Input.Fields[p.Created].Name)
	}
	w("filter", v.Filter)
	for _, f := range v.Features {
		w("feature", f.Name, f.Type.String(), f.Expression())
	}
	for _, g := range v.Aggregations {
		w("agg", g.Name, g.Func.String(), g.Expr, g.Window.String(), g.Hop.String())
	}
	if src, err := compute.OfflineSource(ix, v); err == nil {
		w("history", src.Name, src.Path)
	}
	h := fnv.New32a()
	h.Write([]byte(b.String()))
	return h.Sum32()
}

// OnlineViews compiles every online feature view of ix (Online set), in
// name order. Views that cannot be compiled are reported in the error
// together, one *ViewError each; the others are returned.
func OnlineViews(ix *def.Index) (map[string]*OnlineView, error) {
	out := map[string]*OnlineView{}
	ids := map[uint32]string{}
	var errs []error
	names := ix.Names(def.KindFeatureView)
	sort.Strings(names)
	for _, name := range names {
		v := ix.FeatureView(name)
		if !v.Online {
			continue
		}
		ov, err := CompileOnline(ix, v)
		if err != nil {
			errs = append(errs, &ViewError{View: name, Err: err})
			continue
		}
		if other, ok := ids[ov.ID]; ok {
			errs = append(errs, &ViewError{View: name, Err: fmt.Errorf("featurestore: views %q and %q have the same key id %d; rename one", other, name, ov.ID)})
			continue
		}
		ids[ov.ID] = name
		out[name] = ov
	}
	return out, errors.Join(errs...)
}

// AppendKey appends the key of row in the view's key columns (one per
// join key, in key order) and reports false when a key part is null.
func (ov *OnlineView) AppendKey(dst []byte, keys []*compute.Column, row int) ([]byte, bool) {
	dst = encoding.AppendKeyPrefix(dst, encoding.TagEntity, ov.ID)
	for i, c := range keys {
		if c.Null(row) {
			return dst, false
		}
		if ov.KeyTypes[i] == def.Int64 {
			dst = encoding.AppendInt64(dst, c.I64[row])
		} else {
			dst = encoding.AppendString(dst, c.S[row])
		}
	}
	return dst, true
}

// Prefix returns the prefix of every entity key of the view.
func (ov *OnlineView) Prefix() []byte {
	return encoding.AppendKeyPrefix(nil, encoding.TagEntity, ov.ID)
}
