package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"gorgonia.org/tensor"
)

// TestEngineEquivalence: the Engine's outputs equal the forward pass of
// the gorgonia graph that training uses, with the same weights, and a
// float64 reference loop, within 1e-5 relative or absolute — for trained
// and random models, for both tasks, for every batch-size class and for
// calls longer than a pass, including layers wide enough to be split into
// column groups.
func TestEngineEquivalence(t *testing.T) {
	trained, _, err := Train(t.Context(), synth(600, 6, 9, 0.1, linearRule), TrainConfig{Arch: Arch{Hidden: []int{16, 8}}, Epochs: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	models := map[string]*Model{
		"trained mlp:16,8":            trained,
		"binary logreg":               randomModel(Binary, 7, nil, 1),
		"regression mlp:64,32":        randomModel(Regression, 50, []int{64, 32}, 2),
		"binary mlp:100 (tile 64)":    randomModel(Binary, 20, []int{100}, 3),
		"binary mlp:300,5 (3 groups)": randomModel(Binary, 9, []int{300, 5}, 4),
	}
	for name, m := range models {
		e, err := NewEngine(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, rows := range []int{1, 2, 3, 7, 8, 9, 63, 64, 65, 100, 191, 192, 193, 256, 500} {
			t.Run(fmt.Sprintf("%s/rows=%d", name, rows), func(t *testing.T) {
				x := randomInput(m, rows, uint64(rows))
				got := make([]float32, rows)
				if err := e.Predict(x, rows, got); err != nil {
					t.Fatal(err)
				}
				graph, err := graphForward(m, x, rows)
				if err != nil {
					t.Fatal(err)
				}
				in := len(m.Inputs)
				for i := range rows {
					ref := refForward(m, x[i*in:(i+1)*in])
					if !close32(float64(got[i]), float64(graph[i]), 1e-5) {
						t.Fatalf("row %d: engine %v, gorgonia graph %v", i, got[i], graph[i])
					}
					if !close32(float64(got[i]), ref, 1e-5) {
						t.Fatalf("row %d: engine %v, float64 reference %v", i, got[i], ref)
					}
				}
			})
		}
	}
}

// TestEngineRowIndependence: a row's prediction is the same, bit for bit,
// alone and inside any batch, so batching on the serving path cannot change
// an answer.
func TestEngineRowIndependence(t *testing.T) {
	m := randomModel(Binary, 12, []int{16}, 5)
	e, err := NewEngine(m, &EngineOptions{MaxBatch: 32})
	if err != nil {
		t.Fatal(err)
	}
	x := randomInput(m, 100, 6)
	all := make([]float32, 100)
	if err := e.Predict(x, 100, all); err != nil {
		t.Fatal(err)
	}
	one := make([]float32, 1)
	for i := range 100 {
		if err := e.Predict(x[i*12:(i+1)*12], 1, one); err != nil {
			t.Fatal(err)
		}
		if math.Float32bits(one[0]) != math.Float32bits(all[i]) {
			t.Fatalf("row %d: alone %v, in a batch %v", i, one[0], all[i])
		}
	}
	// An infinite input spoils its own row only, in this call and after.
	bad := append([]float32(nil), x...)
	bad[5*12+3] = float32(math.Inf(1))
	bad[6*12+4] = float32(math.Inf(-1))
	got := make([]float32, 100)
	for range 2 {
		if err := e.Predict(bad, 100, got); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if i != 5 && i != 6 && math.Float32bits(got[i]) != math.Float32bits(all[i]) {
				t.Fatalf("row %d changed by infinities in rows 5 and 6: %v, want %v", i, got[i], all[i])
			}
		}
	}
	if err := e.Predict(x, 100, got); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if math.Float32bits(got[i]) != math.Float32bits(all[i]) {
			t.Fatalf("row %d after a call with infinities: %v, want %v", i, got[i], all[i])
		}
	}
}

func TestEngineShapeErrors(t *testing.T) {
	m := randomModel(Binary, 3, nil, 7)
	e, err := NewEngine(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		x    []float32
		rows int
		out  []float32
		want string
	}{
		{make([]float32, 5), 2, make([]float32, 2), "model: predict: x has 5 values, want 2 rows × 3 inputs = 6"},
		{make([]float32, 6), 2, make([]float32, 1), "model: predict: out has room for 1 predictions, want 2"},
		{nil, -1, nil, "model: predict: rows -1 < 0"},
	} {
		err := e.Predict(tc.x, tc.rows, tc.out)
		if !errors.Is(err, ErrShape) || err.Error() != tc.want {
			t.Errorf("Predict(%d values, %d rows, %d out) = %v, want %q", len(tc.x), tc.rows, len(tc.out), err, tc.want)
		}
	}
	if err := e.Predict(nil, 0, nil); err != nil {
		t.Fatalf("zero rows: %v", err)
	}
}

func TestNewEngineErrors(t *testing.T) {
	bad := randomModel(Binary, 3, []int{4}, 8)
	bad.Layers[1].In = 5
	if _, err := NewEngine(bad, nil); !errors.Is(err, ErrInput) || err.Error() != "model: invalid model: layer 2: In 5 != previous Out 4" {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewEngine(randomModel(Binary, 3, nil, 8), &EngineOptions{MaxBatch: -1}); !errors.Is(err, ErrInput) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewEngine(nil, nil); !errors.Is(err, ErrInput) {
		t.Fatalf("err = %v", err)
	}
}

// TestEngineConcurrent: 32 goroutines predict at once, each on its own
// rows and batch sizes, each checking its answers against the reference
// (run it with -race).
func TestEngineConcurrent(t *testing.T) {
	m := randomModel(Binary, 20, []int{32, 16}, 9)
	e, err := NewEngine(m, &EngineOptions{MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 4))
			for it := range 20 {
				rows := 1 + rng.IntN(150)
				x := randomInput(m, rows, uint64(g*1000+it))
				out := make([]float32, rows)
				if err := e.Predict(x, rows, out); err != nil {
					errs <- err
					return
				}
				for i := range rows {
					if ref := refForward(m, x[i*20:(i+1)*20]); !close32(float64(out[i]), ref, 1e-5) {
						errs <- fmt.Errorf("goroutine %d call %d row %d: %v, want %v", g, it, i, out[i], ref)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMatMulEngine: the allocation-free MatMul gives bit-identical results
// to tensor.StdEng.MatMul, with b plain or a lazy transpose.
func TestMatMulEngine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	a := tensor.New(tensor.WithShape(7, 5), tensor.WithBacking(fill(35)))
	b := tensor.New(tensor.WithShape(5, 3), tensor.WithBacking(fill(15)))
	want := tensor.New(tensor.WithShape(7, 3), tensor.WithBacking(make([]float32, 21)))
	got := tensor.New(tensor.WithShape(7, 3), tensor.WithBacking(make([]float32, 21)))
	if err := (tensor.StdEng{}).MatMul(a, b, want); err != nil {
		t.Fatal(err)
	}
	if err := (matMulEngine{}).MatMul(a, b, got); err != nil {
		t.Fatal(err)
	}
	for i, w := range want.Float32s() {
		if math.Float32bits(got.Float32s()[i]) != math.Float32bits(w) {
			t.Fatalf("element %d: %v, want %v", i, got.Float32s()[i], w)
		}
	}
	bt := tensor.New(tensor.WithShape(3, 5), tensor.WithBacking(fill(15)))
	if err := bt.T(); err != nil {
		t.Fatal(err)
	}
	if err := (tensor.StdEng{}).MatMul(a, bt, want); err != nil {
		t.Fatal(err)
	}
	if err := (matMulEngine{}).MatMul(a, bt, got); err != nil {
		t.Fatal(err)
	}
	for i, w := range want.Float32s() {
		if got.Float32s()[i] != w {
			t.Fatalf("transposed, element %d: %v, want %v", i, got.Float32s()[i], w)
		}
	}
	// A transposed 1×5 (tensor reports its strides as [1 1]).
	v := tensor.New(tensor.WithShape(1, 5), tensor.WithBacking(fill(5)))
	if err := v.T(); err != nil {
		t.Fatal(err)
	}
	want1 := tensor.New(tensor.WithShape(7, 1), tensor.WithBacking(make([]float32, 7)))
	got1 := tensor.New(tensor.WithShape(7, 1), tensor.WithBacking(make([]float32, 7)))
	if err := (tensor.StdEng{}).MatMul(a, v, want1); err != nil {
		t.Fatal(err)
	}
	if err := (matMulEngine{}).MatMul(a, v, got1); err != nil {
		t.Fatal(err)
	}
	for i, w := range want1.Float32s() {
		if math.Float32bits(got1.Float32s()[i]) != math.Float32bits(w) {
			t.Fatalf("transposed vector, element %d: %v, want %v", i, got1.Float32s()[i], w)
		}
	}
	if !transposedF32(v, 5, 1) || !transposedF32(bt, 5, 3) || transposedF32(b, 5, 3) {
		t.Fatal("transposedF32 misclassifies")
	}
}
