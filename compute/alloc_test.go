//go:build !race

package compute

import "testing"

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
