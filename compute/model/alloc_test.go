//go:build !race

package model

import (
	"runtime"
	"testing"
)

// TestPredictAllocs proves that steady-state Predict allocates nothing,
// at every benchmark batch size, past a pass, and for a layer wide enough
// to be split into column groups (the race detector allocates, hence the
// build tag).
func TestPredictAllocs(t *testing.T) {
	m := randomModel(Binary, 50, []int{64, 32}, 1)
	wide := randomModel(Regression, 10, []int{300}, 2)
	for name, m := range map[string]*Model{"mlp:64,32": m, "mlp:300": wide} {
		e, err := NewEngine(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, rows := range []int{1, 16, 100, 256, 1000} {
			x := randomInput(m, rows, 1)
			out := make([]float32, rows)
			if err := e.Predict(x, rows, out); err != nil { // warm-up
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() { e.Predict(x, rows, out) }); n != 0 {
				t.Errorf("%s batch=%d: %v allocs/op, want 0", name, rows, n)
			}
			// Garbage collections do not empty the runner pool.
			if n := testing.AllocsPerRun(5, func() { runtime.GC(); runtime.GC(); e.Predict(x, rows, out) }); n != 0 {
				t.Errorf("%s batch=%d after GCs: %v allocs/op, want 0", name, rows, n)
			}
		}
	}
}
