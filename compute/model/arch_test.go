package model

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestParseArch(t *testing.T) {
	for _, tc := range []struct {
		in     string
		hidden []int
	}{
		{"logreg", nil},
		{"mlp:64,32", []int{64, 32}},
		{"mlp:1", []int{1}},
		{"mlp:4096", []int{4096}},
	} {
		a, err := ParseArch(tc.in)
		if err != nil {
			t.Fatalf("ParseArch(%q): %v", tc.in, err)
		}
		if !reflect.DeepEqual(a.Hidden, tc.hidden) || a.String() != tc.in {
			t.Fatalf("ParseArch(%q) = %v (%q)", tc.in, a.Hidden, a.String())
		}
	}
	for in, want := range map[string]string{
		"mlp:0":                                 `model: arch "mlp:0": hidden width must be 1..4096`,
		"mlp:4097":                              `model: arch "mlp:4097": hidden width must be 1..4096`,
		"mlp:-3":                                `model: arch "mlp:-3": hidden width must be 1..4096`,
		"mlp:":                                  `model: arch "mlp:": no hidden widths after "mlp:"`,
		"mlp:8,,4":                              `model: arch "mlp:8,,4": hidden width 2 ("") is not an integer`,
		"mlp:8, 4":                              `model: arch "mlp:8, 4": hidden width 2 (" 4") is not an integer`,
		"mlp":                                   `model: arch "mlp": want "logreg" or "mlp:W1,W2,..." (hidden widths, e.g. "mlp:64,32")`,
		"":                                      `model: arch "": want "logreg" or "mlp:W1,W2,..." (hidden widths, e.g. "mlp:64,32")`,
		"LogReg":                                `model: arch "LogReg": want "logreg" or "mlp:W1,W2,..." (hidden widths, e.g. "mlp:64,32")`,
		"mlp:1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1": `model: arch "mlp:1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1": 17 hidden layers, at most 16`,
	} {
		_, err := ParseArch(in)
		if !errors.Is(err, ErrInput) || err.Error() != want {
			t.Errorf("ParseArch(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestTask(t *testing.T) {
	for _, task := range []Task{Binary, Regression} {
		got, err := ParseTask(task.String())
		if err != nil || got != task {
			t.Fatalf("ParseTask(%q) = %v, %v", task.String(), got, err)
		}
	}
	if Task(9).String() != "Task(9)" {
		t.Fatal(Task(9).String())
	}
	if _, err := ParseTask("multiclass"); !errors.Is(err, ErrInput) {
		t.Fatal(err)
	}
}

// TestAUC checks the rank-based AUC, ties included, against the
// definition: the fraction of (positive, negative) pairs ordered right,
// ties counting one half.
func TestAUC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for it := range 200 {
		n := 2 + rng.IntN(60)
		p := make([]float32, n)
		y := make([]float32, n)
		for i := range p {
			p[i] = float32(rng.IntN(1 + it%8)) // few distinct scores: many ties
			y[i] = float32(rng.IntN(2))
		}
		var num, den float64
		for i := range n {
			for j := range n {
				if y[i] == 1 && y[j] == 0 {
					den++
					switch {
					case p[i] > p[j]:
						num++
					case p[i] == p[j]:
						num += 0.5
					}
				}
			}
		}
		got, ok := AUC(p, y)
		if ok != (den > 0) {
			t.Fatalf("ok = %v with %v pairs", ok, den)
		}
		if ok && math.Abs(got-num/den) > 1e-12 {
			t.Fatalf("AUC = %v, want %v (p %v, y %v)", got, num/den, p, y)
		}
	}
	if auc, _ := AUC([]float32{0.1, 0.4, 0.35, 0.8}, []float32{0, 0, 1, 1}); auc != 0.75 {
		t.Fatalf("sklearn example: AUC = %v, want 0.75", auc)
	}
}

func TestMetrics(t *testing.T) {
	p := []float32{0, 1, 0.5, 0.25}
	y := []float32{0, 1, 1, 0}
	if got, want := LogLoss(p, y), (-math.Log(1-1e-7)*2-math.Log(0.5)-math.Log(0.75))/4; math.Abs(got-want) > 1e-9 {
		t.Fatalf("LogLoss = %v, want %v", got, want)
	}
	if got := Accuracy(p, y); got != 1 {
		t.Fatalf("Accuracy = %v", got)
	}
	if got := RMSE([]float32{1, 3}, []float32{2, 1}); math.Abs(got-math.Sqrt(2.5)) > 1e-12 {
		t.Fatalf("RMSE = %v", got)
	}
	if got := MAE([]float32{1, 3}, []float32{2, 1}); got != 1.5 {
		t.Fatalf("MAE = %v", got)
	}
}

func TestTrainErrors(t *testing.T) {
	ds := synth(50, 2, 1, 0, regRule)
	one := synth(1, 2, 1, 0, xorRule)
	bad := synth(10, 2, 1, 0, xorRule)
	bad.X[3] = float32(math.Inf(1))
	short := synth(10, 2, 1, 0, xorRule)
	short.Y = short.Y[:9]
	dup := synth(10, 2, 1, 0, xorRule)
	dup.Features[1] = dup.Features[0]
	for _, tc := range []struct {
		name string
		ds   *Dataset
		cfg  TrainConfig
		want string
	}{
		{"binary labels", ds, TrainConfig{Task: Binary}, "model: train: binary task but row 0 has label"},
		{"epochs", ds, TrainConfig{Epochs: -1}, "model: train: epochs -1, want 1..100000"},
		{"batch", ds, TrainConfig{BatchSize: 1 << 20}, "model: train: batch size 1048576, want 1..65536"},
		{"rate", ds, TrainConfig{LearningRate: math.NaN()}, "model: train: learning rate NaN, want > 0 and <= 10"},
		{"holdout", ds, TrainConfig{Holdout: 1}, "model: train: holdout 1, want a fraction in (0, 0.9]"},
		{"arch", ds, TrainConfig{Arch: Arch{Hidden: []int{0}}}, `model: arch "mlp:0": hidden width must be 1..4096`},
		{"task", ds, TrainConfig{Task: 3}, "model: train: unknown task 3"},
		{"nil", nil, TrainConfig{}, "model: train: nil dataset"},
		{"one row", one, TrainConfig{}, "model: train: 1 rows with a label, need at least 2"},
		{"inf", bad, TrainConfig{}, `model: train: row 1 feature "v__fb0" is +Inf`},
		{"short Y", short, TrainConfig{}, "model: train: Y has 9 labels, want 10"},
		{"duplicate features", dup, TrainConfig{}, `model: train: feature names: inputs 1 and 2 are both named "v__fa0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := Train(context.Background(), tc.ds, tc.cfg)
			if m != nil || !errors.Is(err, ErrInput) || len(err.Error()) < len(tc.want) || err.Error()[:len(tc.want)] != tc.want {
				t.Fatalf("Train = %v, %v; want %q…", m, err, tc.want)
			}
		})
	}
}

// TestTrainNormalisation: the stored normalisation is the training
// split's mean and population deviation, missing values skipped; a
// constant column gets scale 1 and an all-missing column mean 0, scale 1.
func TestTrainNormalisation(t *testing.T) {
	ds := synth(200, 3, 3, 0.2, linearRule)
	for i := range ds.Rows {
		ds.X[i*3+1] = 5
		ds.X[i*3+2] = float32(math.NaN())
	}
	m, _, err := Train(context.Background(), ds, TrainConfig{Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Mean[1] != 5 || m.Scale[1] != 1 || m.Mean[2] != 0 || m.Scale[2] != 1 {
		t.Fatalf("mean %v scale %v", m.Mean, m.Scale)
	}
	if math.Abs(float64(m.Mean[0])) > 0.3 || math.Abs(float64(m.Scale[0])-1) > 0.3 {
		t.Fatalf("column 0: mean %v scale %v, want about 0 and 1", m.Mean[0], m.Scale[0])
	}
}
