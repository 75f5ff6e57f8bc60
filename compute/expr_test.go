package compute

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fstore/fstore/featurestore/def"
)

// TestDifferentialAgainstReference compiles random typed expressions over
// random schemas and data (nulls, NaN, ±Inf, -0, extreme ints, odd strings,
// timestamps before the epoch) and compares the vectorised result with the
// row-by-row reference, for every row, on large batches and one-row batches
// (the online shape) alike.
func TestDifferentialAgainstReference(t *testing.T) {
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	r := rand.New(rand.NewPCG(42, 7))
	types := []def.ValueType{def.Int64, def.Double, def.Bool, def.String, def.Timestamp}
	for it := 0; it < iters; it++ {
		rows := 1 + r.IntN(150)
		schemaFields, cols := randomData(r, rows)
		g := &gen{r: r, schema: schemaFields, cols: cols}
		want := types[r.IntN(len(types))]
		tree := g.expr(want, 1+r.IntN(4))
		schema, err := NewSchema(schemaFields)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Compile(tree.text, schema)
		if err != nil {
			t.Fatalf("compile %q: %v", tree.text, err)
		}
		if e.Type != tree.typ {
			t.Fatalf("%q: type %s, reference %s", tree.text, e.Type, tree.typ)
		}
		batch := toBatch(schemaFields, cols, rows)
		ev := e.NewEvaluator()
		got := ev.Eval(batch)
		for row := 0; row < rows; row++ {
			if w := tree.eval(row); !sameValue(got, row, w) {
				t.Fatalf("%q row %d: got %v, reference %v\nrow: %v", tree.text, row, got.Value(row), w, rowString(schemaFields, cols, row))
			}
		}
		// The online shape: the same evaluator, one row at a time.
		for row := 0; row < rows && row < 5; row++ {
			one := toBatch(schemaFields, sliceRow(cols, row), 1)
			got := ev.Eval(one)
			if w := tree.eval(row); !sameValue(got, 0, w) {
				t.Fatalf("%q one-row batch of row %d: got %v, reference %v", tree.text, row, got.Value(0), w)
			}
		}
	}
}

func sliceRow(cols [][]rv, row int) [][]rv {
	out := make([][]rv, len(cols))
	for i, c := range cols {
		out[i] = []rv{c[row]}
	}
	return out
}

func rowString(schema []def.Field, cols [][]rv, row int) string {
	var b strings.Builder
	for i, f := range schema {
		if cols[i][row].null {
			fmt.Fprintf(&b, "%s=null ", f.Name)
		} else {
			fmt.Fprintf(&b, "%s=%#v ", f.Name, cols[i][row].v)
		}
	}
	return b.String()
}
