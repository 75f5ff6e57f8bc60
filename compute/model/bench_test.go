package model

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// The inference benchmarks run the same network, mlp:64,32 over 50
// inputs, three ways: the Engine (float32 gorgonia tensors, the serving
// path), gonum float64 mat.Dense multiplies into reused matrices (the
// baseline the Engine is held to: within 1.2× per batch), and a gorgonia
// TapeMachine running the forward graph (for context). Each includes the
// normalisation of raw inputs and the output sigmoid. Compare with
//
//	go test ./compute/model -run '^$' -bench . -benchmem -count 10 > new.txt
//	benchstat -col /impl old.txt new.txt  # or: benchstat new.txt
//
// (benchstat: golang.org/x/perf/cmd/benchstat).

var benchBatches = []int{1, 16, 100, 256}

const benchInputs = 50

func benchModel() *Model { return randomModel(Binary, benchInputs, []int{64, 32}, 1) }

func BenchmarkPredict(b *testing.B) {
	m := benchModel()
	e, err := NewEngine(m, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, rows := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", rows), func(b *testing.B) {
			x := randomInput(m, rows, 1)
			out := make([]float32, rows)
			b.ReportAllocs()
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				if err := e.Predict(x, rows, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// gonumMLP is the baseline: the same forward pass in float64 with gonum.
type gonumMLP struct {
	mean, scale []float64
	w, b        []*mat.Dense
	x           *mat.Dense
	h           []*mat.Dense
}

func newGonumMLP(m *Model, rows int) *gonumMLP {
	g := &gonumMLP{x: mat.NewDense(rows, len(m.Inputs), nil)}
	for j := range m.Inputs {
		g.mean = append(g.mean, float64(m.Mean[j]))
		g.scale = append(g.scale, float64(m.Scale[j]))
	}
	for _, l := range m.Layers {
		w := make([]float64, len(l.W))
		for i, v := range l.W {
			w[i] = float64(v)
		}
		bias := make([]float64, len(l.B))
		for i, v := range l.B {
			bias[i] = float64(v)
		}
		g.w = append(g.w, mat.NewDense(l.In, l.Out, w))
		g.b = append(g.b, mat.NewDense(1, l.Out, bias))
		g.h = append(g.h, mat.NewDense(rows, l.Out, nil))
	}
	return g
}

func (g *gonumMLP) forward(x []float32, out []float64) {
	raw := g.x.RawMatrix()
	n := len(g.mean)
	for i, v := range x {
		j := i % n
		if v != v {
			raw.Data[i] = 0
			continue
		}
		raw.Data[i] = (float64(v) - g.mean[j]) / g.scale[j]
	}
	in := g.x
	for li, w := range g.w {
		h := g.h[li]
		h.Mul(in, w)
		hr := h.RawMatrix()
		bias := g.b[li].RawMatrix().Data
		relu := li < len(g.w)-1
		for r := 0; r < hr.Rows; r++ {
			row := hr.Data[r*hr.Stride : r*hr.Stride+hr.Cols]
			for j, bj := range bias {
				v := row[j] + bj
				if relu && v < 0 {
					v = 0
				}
				row[j] = v
			}
		}
		in = h
	}
	for i, z := range g.h[len(g.h)-1].RawMatrix().Data {
		out[i] = 1 / (1 + math.Exp(-z))
	}
}

func BenchmarkGonumForward(b *testing.B) {
	m := benchModel()
	for _, rows := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", rows), func(b *testing.B) {
			g := newGonumMLP(m, rows)
			x := randomInput(m, rows, 1)
			out := make([]float64, rows)
			b.ReportAllocs()
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				g.forward(x, out)
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkGorgoniaGraphForward runs the forward graph built once per
// batch size by a TapeMachine per batch: what serving straight from the
// training graph would cost.
func BenchmarkGorgoniaGraphForward(b *testing.B) {
	m := benchModel()
	for _, rows := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", rows), func(b *testing.B) {
			n, err := buildNet(m.Layers, m.Task, rows, false)
			if err != nil {
				b.Fatal(err)
			}
			defer n.vm.Close()
			x := randomInput(m, rows, 1)
			out := make([]float32, rows)
			b.ReportAllocs()
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				for i := range rows {
					normalize(n.xb[i*benchInputs:(i+1)*benchInputs], x[i*benchInputs:(i+1)*benchInputs], m.Mean, m.Scale)
				}
				if err := n.vm.RunAll(); err != nil {
					b.Fatal(err)
				}
				copy(out, n.out.Value().Data().([]float32))
				n.vm.Reset()
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestGonumBaselineAgrees keeps the baseline honest: it computes what the
// Engine computes.
func TestGonumBaselineAgrees(t *testing.T) {
	m := benchModel()
	e, _ := NewEngine(m, nil)
	x := randomInput(m, 100, 2)
	got := make([]float32, 100)
	want := make([]float64, 100)
	e.Predict(x, 100, got)
	newGonumMLP(m, 100).forward(x, want)
	for i := range got {
		if !close32(float64(got[i]), want[i], 1e-5) {
			t.Fatalf("row %d: engine %v, gonum %v", i, got[i], want[i])
		}
	}
}
