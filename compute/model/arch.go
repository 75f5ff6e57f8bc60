package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits on a network's shape, enforced by ParseArch, Train, NewEngine and
// Unmarshal alike.
const (
	// MaxWidth is the largest hidden-layer width.
	MaxWidth = 4096
	// MaxHidden is the largest number of hidden layers.
	MaxHidden = 16
	// MaxInputs is the largest number of model inputs.
	MaxInputs = 1 << 16
	// MaxNameLen is the longest input name, in bytes.
	MaxNameLen = 1024
)

// Arch is a network architecture: a stack of fully connected hidden layers
// with ReLU, then one output unit. No hidden layers is logistic (Binary) or
// linear (Regression) regression.
type Arch struct {
	// Hidden holds the hidden-layer widths, input side first.
	Hidden []int
}

// ParseArch parses "logreg" (no hidden layer) or "mlp:W1,W2,..." (hidden
// widths, each 1..MaxWidth, at most MaxHidden of them). Errors match
// ErrInput and quote s.
func ParseArch(s string) (Arch, error) {
	if s == "logreg" {
		return Arch{}, nil
	}
	rest, ok := strings.CutPrefix(s, "mlp:")
	if !ok {
		return Arch{}, inputErrorf(`arch %q: want "logreg" or "mlp:W1,W2,..." (hidden widths, e.g. "mlp:64,32")`, s)
	}
	if rest == "" {
		return Arch{}, inputErrorf(`arch %q: no hidden widths after "mlp:"`, s)
	}
	parts := strings.Split(rest, ",")
	if len(parts) > MaxHidden {
		return Arch{}, inputErrorf("arch %q: %d hidden layers, at most %d", s, len(parts), MaxHidden)
	}
	a := Arch{Hidden: make([]int, len(parts))}
	for i, p := range parts {
		w, err := strconv.Atoi(p)
		if err != nil {
			return Arch{}, inputErrorf("arch %q: hidden width %d (%q) is not an integer", s, i+1, p)
		}
		if w < 1 || w > MaxWidth {
			return Arch{}, inputErrorf("arch %q: hidden width must be 1..%d", s, MaxWidth)
		}
		a.Hidden[i] = w
	}
	return a, nil
}

// String returns the form ParseArch reads: "logreg" or "mlp:64,32".
func (a Arch) String() string {
	if len(a.Hidden) == 0 {
		return "logreg"
	}
	var b strings.Builder
	b.WriteString("mlp:")
	for i, w := range a.Hidden {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(w))
	}
	return b.String()
}

// validate checks the widths of an Arch built without ParseArch.
func (a Arch) validate() error {
	if len(a.Hidden) > MaxHidden {
		return inputErrorf("arch %s: %d hidden layers, at most %d", a, len(a.Hidden), MaxHidden)
	}
	for _, w := range a.Hidden {
		if w < 1 || w > MaxWidth {
			return inputErrorf("arch %q: hidden width must be 1..%d", a.String(), MaxWidth)
		}
	}
	return nil
}

// Task is what a model predicts.
type Task uint8

// The tasks. The zero Task means "infer from the labels" in TrainConfig and
// is never the Task of a Model.
const (
	// Binary predicts the probability that the label is 1 (true).
	Binary Task = 1
	// Regression predicts the label's value.
	Regression Task = 2
)

// String returns "binary" or "regression".
func (t Task) String() string {
	switch t {
	case Binary:
		return "binary"
	case Regression:
		return "regression"
	}
	return fmt.Sprintf("Task(%d)", uint8(t))
}

// ParseTask is the inverse of Task.String; "" parses as the zero Task
// (infer from the labels).
func ParseTask(s string) (Task, error) {
	switch s {
	case "binary":
		return Binary, nil
	case "regression":
		return Regression, nil
	case "":
		return 0, nil
	}
	return 0, inputErrorf(`task %q: want "binary" or "regression"`, s)
}
