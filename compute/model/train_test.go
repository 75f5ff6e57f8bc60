package model

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestConvergence trains on synthetic rules with known answers. Bounds:
// a linear rule is learnt by logreg and mlp:16 to AUC > 0.95; an XOR rule,
// which no linear model can separate, is learnt by mlp:16,8 to AUC > 0.9
// while logreg stays within 0.5 ± 0.1; a linear regression rule with noise
// σ = 0.1 (label σ ≈ 3.6) reaches RMSE < 0.3.
func TestConvergence(t *testing.T) {
	lin := synth(1500, 4, 1, 0.02, linearRule)
	xor := synth(1500, 2, 2, 0, xorRule)
	reg := synth(1000, 3, 3, 0, regRule)
	for _, tc := range []struct {
		name string
		ds   *Dataset
		arch string
		task Task
		key  string
		lo   float64
		hi   float64
		lr   float64
	}{
		{"linear/logreg", lin, "logreg", Binary, "auc", 0.95, 1, 0},
		{"linear/mlp16", lin, "mlp:16", Binary, "auc", 0.95, 1, 0},
		{"xor/mlp16,8", xor, "mlp:16,8", Binary, "auc", 0.9, 1, 0},
		{"xor/logreg", xor, "logreg", Binary, "auc", 0.4, 0.6, 0},
		{"regression/logreg", reg, "logreg", Regression, "rmse", 0, 0.3, 0.05},
		{"regression/mlp16", reg, "mlp:16", Regression, "rmse", 0, 0.3, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseArch(tc.arch)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			m, met, err := Train(context.Background(), tc.ds, TrainConfig{Arch: a, Seed: 7, Epochs: 25, BatchSize: 64, LearningRate: tc.lr})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s in %v: %v", tc.name, time.Since(start), met)
			if m.Task != tc.task {
				t.Fatalf("task %v, want %v", m.Task, tc.task)
			}
			if v := met[tc.key]; !(v >= tc.lo && v <= tc.hi) {
				t.Fatalf("%s = %v, want in [%v, %v]", tc.key, v, tc.lo, tc.hi)
			}
			if met["holdout_rows"]+met["train_rows"] != float64(tc.ds.Rows) {
				t.Fatalf("rows %v + %v != %d", met["holdout_rows"], met["train_rows"], tc.ds.Rows)
			}
		})
	}
}

// TestDeterminism: the same data, config and seed give bit-identical
// artifacts; another seed gives another model.
func TestDeterminism(t *testing.T) {
	ds := synth(700, 5, 4, 0.1, linearRule) // 560 train rows: a partial last batch
	cfg := TrainConfig{Arch: Arch{Hidden: []int{8, 4}}, Epochs: 5, BatchSize: 100, Seed: 42}
	var arts [][]byte
	for _, seed := range []int64{42, 42, 43} {
		cfg.Seed = seed
		m, _, err := Train(context.Background(), ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, b)
	}
	if !bytes.Equal(arts[0], arts[1]) {
		t.Fatal("same seed, different artifacts")
	}
	if bytes.Equal(arts[0], arts[2]) {
		t.Fatal("different seeds, same artifact")
	}
}

func TestTrainCancel(t *testing.T) {
	ds := synth(2000, 4, 5, 0, linearRule)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, _, err := Train(ctx, ds, TrainConfig{Epochs: 50, BatchSize: 32, Progress: func(epoch, epochs int, loss float64) {
		calls++
		if epoch == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls != 2 {
		t.Fatalf("%d progress calls, want 2", calls)
	}
}

// TestPartialBatchPadding: a batch padded to the graph's size (zero input,
// label and mask on the padding rows, 1/nb on the real ones) has the same
// cost and gradients as a graph of exactly the real rows, so the last
// partial batch of an epoch trains like any other.
func TestPartialBatchPadding(t *testing.T) {
	for _, task := range []Task{Binary, Regression} {
		m := randomModel(task, 4, []int{6}, 3)
		x := randomInput(m, 5, 4)
		full, err := buildNet(m.Layers, task, 8, true)
		if err != nil {
			t.Fatal(err)
		}
		exact, err := buildNet(m.Layers, task, 5, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []*net{full, exact} {
			for i := range 5 {
				normalize(n.xb[i*4:(i+1)*4], x[i*4:(i+1)*4], m.Mean, m.Scale)
				n.yb[i] = float32(i % 2)
				n.mb[i] = 1.0 / 5
			}
			if err := n.vm.RunAll(); err != nil {
				t.Fatal(err)
			}
		}
		c1 := full.cost.Value().Data().(float32)
		c2 := exact.cost.Value().Data().(float32)
		if !close32(float64(c1), float64(c2), 1e-6) {
			t.Fatalf("%v: padded cost %v, exact %v", task, c1, c2)
		}
		for i, p := range full.learnables {
			g1, err1 := p.Grad()
			g2, err2 := exact.learnables[i].Grad()
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			a, b := g1.Data().([]float32), g2.Data().([]float32)
			if len(a) == 0 || len(a) != len(b) {
				t.Fatalf("%v: %s gradients of %d and %d values", task, p.Name(), len(a), len(b))
			}
			nonzero := false
			for _, v := range a {
				nonzero = nonzero || v != 0
			}
			if !nonzero {
				t.Fatalf("%v: %s gradient is all zero", task, p.Name())
			}
			for k := range a {
				if !close32(float64(a[k]), float64(b[k]), 1e-5) {
					t.Fatalf("%v: %s gradient %d: padded %v, exact %v", task, p.Name(), k, a[k], b[k])
				}
			}
		}
		full.vm.Close()
		exact.vm.Close()
	}
}

// TestHoldoutPredictions checks that the held-out predictions handed to
// HoldoutPredictions are the held-out rows' (as many as holdout_rows,
// ascending, disjoint from nothing else) and equal the trained model's
// own predictions on those rows: probabilities in [0, 1] for a binary
// task, and what the Engine gives for each row.
func TestHoldoutPredictions(t *testing.T) {
	ds := synth(500, 4, 3, 0.05, linearRule)
	var rows []int
	var preds []float32
	m, met, err := Train(context.Background(), ds, TrainConfig{Epochs: 3, Seed: 9, HoldoutPredictions: func(r []int, p []float32) { rows, preds = r, p }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != int(met["holdout_rows"]) || len(preds) != len(rows) || !slices.IsSorted(rows) {
		t.Fatalf("%d rows, %d predictions, holdout_rows %v", len(rows), len(preds), met["holdout_rows"])
	}
	e, err := NewEngine(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := len(ds.Features)
	one := make([]float32, 1)
	for i, r := range rows {
		if p := preds[i]; !(p >= 0 && p <= 1) {
			t.Fatalf("row %d: probability %v", r, p)
		}
		if err := e.Predict(ds.X[r*in:(r+1)*in], 1, one); err != nil {
			t.Fatal(err)
		}
		if one[0] != preds[i] {
			t.Fatalf("row %d: held-out prediction %v, engine %v", r, preds[i], one[0])
		}
	}
}
