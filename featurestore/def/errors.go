package def

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error that Validate returns.
var ErrInvalid = errors.New("def: invalid definitions")

// Problem is one thing wrong with a set of definitions, located as precisely
// as the definitions allow.
type Problem struct {
	// Origin is "file:line" of the object, or empty.
	Origin string
	// Kind and Object name the object; Object is "#N" (its position among
	// the objects of its kind) when the object has no valid name.
	Kind   Kind
	Object string
	// Field is the path of the offending field within the object, such as
	// "features[1].type"; empty for the object as a whole.
	Field string
	// Msg says what is wrong and what was expected.
	Msg string

	ordinal int // position of the object in listing order, for sorting
}

// String formats the problem as "origin: kind "name": field: msg".
func (p Problem) String() string {
	var b strings.Builder
	if p.Origin != "" {
		b.WriteString(p.Origin)
		b.WriteString(": ")
	}
	if p.Kind != "" {
		b.WriteString(string(p.Kind))
		if p.Object != "" {
			fmt.Fprintf(&b, " %q", p.Object)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError lists every problem found, in definition order.
type ValidationError struct {
	Problems []Problem
	// Truncated counts problems beyond MaxProblems that are not listed.
	Truncated int
}

// MaxProblems bounds how many problems one ValidationError lists.
const MaxProblems = 50

// Error formats one problem per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	if e.Truncated > 0 {
		fmt.Fprintf(&b, "\n(and %d more problems)", e.Truncated)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }
