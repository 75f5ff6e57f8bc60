package backfill

import (
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// spineCols is the part of the spine carried into the output
// (Config.SpineColumns): whole top-level fields, in the spine's order.
type spineCols struct {
	// fields are the kept top-level fields' indexes, ascending.
	fields []int
	// leaves are the kept leaf columns' indexes, ascending; leafMap maps
	// every spine leaf to its output leaf, -1 when dropped.
	leaves, leafMap []int
	// elems counts each top-level field's schema elements (itself and
	// everything below it), as the footer lists them depth first.
	elems []int
}

// newSpineCols resolves names (nil: every column) against the spine's
// schema. Errors match ErrConfig and name the column.
func newSpineCols(s *parquet.Schema, names []string) (*spineCols, error) {
	fields := s.Fields()
	k := &spineCols{}
	keep := make([]bool, len(fields))
	for i, n := range names {
		found := false
		for j, f := range fields {
			if f.Name() == n {
				keep[j], found = true, true
			}
		}
		if !found {
			have := make([]string, len(fields))
			for j, f := range fields {
				have[j] = f.Name()
			}
			return nil, fmt.Errorf("%w: SpineColumns[%d]: the spine has no column %q (it has %s)", ErrConfig, i, n, strings.Join(have, ", "))
		}
	}
	leaf := 0
	for j, f := range fields {
		n := leafCount(f)
		k.elems = append(k.elems, elemCount(f))
		if names == nil || keep[j] {
			k.fields = append(k.fields, j)
			for range n {
				k.leafMap = append(k.leafMap, len(k.leaves))
				k.leaves = append(k.leaves, leaf)
				leaf++
			}
			continue
		}
		for range n {
			k.leafMap = append(k.leafMap, -1)
			leaf++
		}
	}
	return k, nil
}

// all reports whether every spine column is kept.
func (k *spineCols) all() bool { return len(k.leaves) == len(k.leafMap) }

// schema returns the footer's schema elements of the kept fields, from
// the spine's (its root excluded).
func (k *spineCols) schema(spine []format.SchemaElement) []format.SchemaElement {
	var out []format.SchemaElement
	off, next := 0, 0
	for j, n := range k.elems {
		if next < len(k.fields) && k.fields[next] == j {
			out = append(out, spine[off:off+n]...)
			next++
		}
		off += n
	}
	return out
}

// project keeps the kept leaves' values of row, renumbered, in place.
func (k *spineCols) project(row parquet.Row) parquet.Row {
	out := row[:0]
	for _, v := range row {
		if c := k.leafMap[v.Column()]; c >= 0 {
			out = append(out, v.Level(v.RepetitionLevel(), v.DefinitionLevel(), c))
		}
	}
	return out
}

func leafCount(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	c := 0
	for _, f := range n.Fields() {
		c += leafCount(f)
	}
	return c
}

func elemCount(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	c := 1
	for _, f := range n.Fields() {
		c += elemCount(f)
	}
	return c
}
