package model

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Layer is one fully connected layer: out = act(in·W + B).
type Layer struct {
	In, Out int
	// W holds In×Out weights, row-major: W[i*Out+j] connects input i to
	// output j.
	W []float32
	// B holds Out biases.
	B []float32
}

// Model is a trained network plus its input normalisation. It is immutable
// after Train or Unmarshal: an Engine and the artifact encoder read it
// without copying, so callers must not modify its slices.
type Model struct {
	Arch Arch
	Task Task
	// Inputs names the input columns in tensor order: the training set's
	// "<view>__<feature>" column names.
	Inputs []string
	// Mean and Scale are the normalisation learnt in training: the network
	// sees z = (x - Mean[j]) / Scale[j], and a missing input (NaN) becomes
	// z = 0, the training mean. Scale is finite and positive.
	Mean, Scale []float32
	// Layers are the network, input side first. Hidden layers use ReLU; the
	// last has Out = 1 and applies the sigmoid for Binary (a probability) or
	// nothing for Regression.
	Layers []Layer
}

// check reports whether m is a well-formed model: a known task,
// 1..MaxInputs distinct non-empty UTF-8 input names, finite normalisation
// with positive scales, layer shapes that chain from len(Inputs) through
// Arch.Hidden to 1, weight and bias slices of the right lengths, every value
// finite. It returns a description of the first problem, or "" when m is
// valid.
func (m *Model) check() string {
	switch m.Task {
	case Binary, Regression:
	default:
		return fmt.Sprintf("unknown task %d (want 1 binary or 2 regression)", uint8(m.Task))
	}
	if len(m.Arch.Hidden) > MaxHidden {
		return fmt.Sprintf("%d hidden layers, at most %d", len(m.Arch.Hidden), MaxHidden)
	}
	n := len(m.Inputs)
	if n < 1 || n > MaxInputs {
		return fmt.Sprintf("%d inputs, want 1..%d", n, MaxInputs)
	}
	seen := make(map[string]int, n)
	for i, name := range m.Inputs {
		switch {
		case name == "":
			return fmt.Sprintf("input %d has an empty name", i+1)
		case len(name) > MaxNameLen:
			return fmt.Sprintf("input %d name is %d bytes, at most %d", i+1, len(name), MaxNameLen)
		case !utf8.ValidString(name):
			return fmt.Sprintf("input %d name %q is not valid UTF-8", i+1, name)
		}
		if j, dup := seen[name]; dup {
			return fmt.Sprintf("inputs %d and %d are both named %q", j+1, i+1, name)
		}
		seen[name] = i
	}
	if len(m.Mean) != n || len(m.Scale) != n {
		return fmt.Sprintf("%d inputs but %d means and %d scales", n, len(m.Mean), len(m.Scale))
	}
	for j := range n {
		if !finite32(m.Mean[j]) {
			return fmt.Sprintf("input %q: mean is %v", m.Inputs[j], m.Mean[j])
		}
		if s := m.Scale[j]; !finite32(s) || s <= 0 {
			return fmt.Sprintf("input %q: scale is %v, want finite and > 0", m.Inputs[j], s)
		}
	}
	if len(m.Layers) != len(m.Arch.Hidden)+1 {
		return fmt.Sprintf("arch %s needs %d layers, have %d", m.Arch, len(m.Arch.Hidden)+1, len(m.Layers))
	}
	prev := n
	for i, l := range m.Layers {
		want := 1
		if i < len(m.Arch.Hidden) {
			want = m.Arch.Hidden[i]
		}
		switch {
		case l.In != prev && i == 0:
			return fmt.Sprintf("layer 1: In %d != %d inputs", l.In, prev)
		case l.In != prev:
			return fmt.Sprintf("layer %d: In %d != previous Out %d", i+1, l.In, prev)
		case l.Out != want && i == len(m.Layers)-1:
			return fmt.Sprintf("layer %d (output): Out %d, want 1", i+1, l.Out)
		case l.Out != want:
			return fmt.Sprintf("layer %d: Out %d but arch %s says %d", i+1, l.Out, m.Arch, want)
		case l.Out < 1 || l.Out > MaxWidth:
			return fmt.Sprintf("layer %d: Out %d, want 1..%d", i+1, l.Out, MaxWidth)
		case len(l.W) != l.In*l.Out:
			return fmt.Sprintf("layer %d: %d weights, want %d×%d = %d", i+1, len(l.W), l.In, l.Out, l.In*l.Out)
		case len(l.B) != l.Out:
			return fmt.Sprintf("layer %d: %d biases, want %d", i+1, len(l.B), l.Out)
		}
		for k, w := range l.W {
			if !finite32(w) {
				return fmt.Sprintf("layer %d: weight [%d,%d] is %v", i+1, k/l.Out, k%l.Out, w)
			}
		}
		for k, b := range l.B {
			if !finite32(b) {
				return fmt.Sprintf("layer %d: bias %d is %v", i+1, k, b)
			}
		}
		prev = l.Out
	}
	return ""
}

// Validate returns nil when m is well formed and otherwise an error
// matching ErrInput that names the problem. NewEngine and MarshalBinary call
// it; a Model from Train or Unmarshal always passes.
func (m *Model) Validate() error {
	if m == nil {
		return inputErrorf("nil model")
	}
	if msg := m.check(); msg != "" {
		return inputErrorf("invalid model: %s", msg)
	}
	return nil
}

func finite32(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// normalize writes the network input for one row of raw values:
// dst[j] = (x[j] - mean[j]) / scale[j], and 0 where x[j] is NaN (missing).
// It is the one implementation of the normalisation, used by training and
// by the Engine, so both see bit-identical inputs.
func normalize(dst, x, mean, scale []float32) {
	dst = dst[:len(x)]
	mean = mean[:len(x)]
	scale = scale[:len(x)]
	for j, v := range x {
		if v != v {
			dst[j] = 0
			continue
		}
		dst[j] = (v - mean[j]) / scale[j]
	}
}

// sigmoid is the logistic function in float32, computed in float64 and
// rounded once.
func sigmoid(z float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(z))))
}
