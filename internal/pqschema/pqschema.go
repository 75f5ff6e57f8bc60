// Package pqschema builds Parquet schemas whose columns keep the order
// they are given: parquet.Group is a map and sorts its fields by name, but
// a training set lists the spine's columns as the spine does, then the
// features, and a feature log lists its columns in its documented order.
package pqschema

import (
	"reflect"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// Named returns node as a field called name.
func Named(name string, node parquet.Node) parquet.Field { return namedField{Node: node, name: name} }

// Ordered returns a required group of fields in the order given.
func Ordered(fields []parquet.Field) parquet.Node { return orderedGroup{fields: fields} }

type orderedGroup struct {
	fields []parquet.Field
}

type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string                           { return f.name }
func (f namedField) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return "group" }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Fields() []parquet.Field     { return g.fields }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeOf(map[string]any{}) }
