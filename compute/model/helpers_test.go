package model

import (
	"math"
	"math/rand/v2"
)

// synth builds a dataset of rows rows with in features drawn from N(0,1)
// and labels from rule; a fraction missing of feature values is NaN
// (after the label is computed from the full values).
func synth(rows, in int, seed uint64, missing float64, rule func(x []float64, rng *rand.Rand) float32) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	ds := &Dataset{Rows: rows}
	for j := range in {
		ds.Features = append(ds.Features, "v__f"+string(rune('a'+j%26))+string(rune('0'+j/26)))
	}
	x := make([]float64, in)
	for range rows {
		for j := range x {
			x[j] = rng.NormFloat64()
		}
		ds.Y = append(ds.Y, rule(x, rng))
		for _, v := range x {
			if rng.Float64() < missing {
				v = math.NaN()
			}
			ds.X = append(ds.X, float32(v))
		}
	}
	return ds
}

// linearRule: y = 1 if 2·x0 − x1 + 0.5·x2 + noise > 0, noise ~ N(0, 0.1²).
func linearRule(x []float64, rng *rand.Rand) float32 {
	if 2*x[0]-x[1]+0.5*x[2]+0.1*rng.NormFloat64() > 0 {
		return 1
	}
	return 0
}

// xorRule: y = 1 if x0 and x1 have the same sign; no linear signal.
func xorRule(x []float64, _ *rand.Rand) float32 {
	if x[0]*x[1] > 0 {
		return 1
	}
	return 0
}

// regRule: y = 3·x0 − 2·x1 + 10 + noise, noise ~ N(0, 0.1²).
func regRule(x []float64, rng *rand.Rand) float32 {
	return float32(3*x[0] - 2*x[1] + 10 + 0.1*rng.NormFloat64())
}

// refForward is the obviously-correct float64 reference of a model's
// forward pass for one row of raw input.
func refForward(m *Model, x []float32) float64 {
	h := make([]float64, len(x))
	for j, v := range x {
		if v != v {
			continue
		}
		h[j] = (float64(v) - float64(m.Mean[j])) / float64(m.Scale[j])
	}
	for li, l := range m.Layers {
		o := make([]float64, l.Out)
		for k := range l.Out {
			s := float64(l.B[k])
			for i := range l.In {
				s += h[i] * float64(l.W[i*l.Out+k])
			}
			if li < len(m.Layers)-1 && s < 0 {
				s = 0
			}
			o[k] = s
		}
		h = o
	}
	if m.Task == Binary {
		return 1 / (1 + math.Exp(-h[0]))
	}
	return h[0]
}

// randomModel builds a valid model with random weights.
func randomModel(task Task, in int, hidden []int, seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 2))
	m := &Model{Arch: Arch{Hidden: hidden}, Task: task}
	for j := range in {
		m.Inputs = append(m.Inputs, "v__x"+itoa(j))
		m.Mean = append(m.Mean, float32(rng.NormFloat64()))
		m.Scale = append(m.Scale, float32(0.5+rng.Float64()))
	}
	prev := in
	for _, w := range append(append([]int(nil), hidden...), 1) {
		l := Layer{In: prev, Out: w, W: make([]float32, prev*w), B: make([]float32, w)}
		for k := range l.W {
			l.W[k] = float32(rng.NormFloat64() / math.Sqrt(float64(prev)))
		}
		for k := range l.B {
			l.B[k] = float32(0.1 * rng.NormFloat64())
		}
		m.Layers = append(m.Layers, l)
		prev = w
	}
	return m
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// randomInput draws rows×in raw values around the model's means, with a
// few missing.
func randomInput(m *Model, rows int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	in := len(m.Inputs)
	x := make([]float32, rows*in)
	for i := range x {
		j := i % in
		if rng.Float64() < 0.05 {
			x[i] = float32(math.NaN())
			continue
		}
		x[i] = m.Mean[j] + m.Scale[j]*float32(rng.NormFloat64())
	}
	return x
}

func close32(a, b float64, tol float64) bool {
	d := math.Abs(a - b)
	return d <= tol || d <= tol*math.Max(math.Abs(a), math.Abs(b))
}
