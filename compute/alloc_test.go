//go:build !race

package compute

import (
	"testing"

	"github.com/fstore/fstore/featurestore/def"
)

// TestOneEntityEvaluationAllocatesNothing proves the online shape allocates
// nothing in steady state: all 50 features of a plan over one row.
func TestOneEntityEvaluationAllocatesNothing(t *testing.T) {
	p, batch := fiftyFeaturePlan(t)
	ev := p.NewEvaluator()
	for i := range p.Features {
		ev.Feature(i, batch)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range p.Features {
			ev.Feature(i, batch)
		}
	})
	if allocs != 0 {
		t.Fatalf("evaluating 50 features for one entity allocates %v times per run, want 0", allocs)
	}
}

// TestExpectationChecksAllocateNothing: row rules over chunks, and the
// per-value checks serve and push use, allocate nothing in steady state.
func TestExpectationChecksAllocateNothing(t *testing.T) {
	lo, hi := -1e9, 1e9
	for _, typ := range []def.ValueType{def.Double, def.Int64, def.String} {
		e := &def.Expectation{Min: &lo, Max: &hi}
		if typ == def.String {
			e = &def.Expectation{AllowedValues: []string{"a", "b", "c", "d", "e", "f", "g", "h"}}
		}
		c, err := NewExpectations("v", []def.Field{{Name: "f", Type: typ}}, []*def.Expectation{e}, func(int) string { return "f" })
		if err != nil {
			t.Fatal(err)
		}
		col := benchColumn(typ, 1000)
		tally := c.NewTally()
		g := c.Gates[0]
		if n := testing.AllocsPerRun(50, func() {
			tally.Reset()
			tally.Add(0, col, 0)
			for row := 0; row < 10; row++ {
				g.CheckRow(col, row)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", typ, n)
		}
	}
}
