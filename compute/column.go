package compute

import (
	"fmt"
	"math/bits"

	"github.com/fstore/fstore/featurestore/def"
)

// Bitmap is a validity bitmap: bit i set means row i holds a value. A nil
// Bitmap means every row is valid.
type Bitmap []uint64

// Get reports whether row i is valid.
func (b Bitmap) Get(i int) bool { return b == nil || b[i>>6]&(1<<(uint(i)&63)) != 0 }

// Set marks row i valid.
func (b Bitmap) Set(i int) { b[i>>6] |= 1 << (uint(i) & 63) }

// Clear marks row i null.
func (b Bitmap) Clear(i int) { b[i>>6] &^= 1 << (uint(i) & 63) }

func words(n int) int { return (n + 63) >> 6 }

// CountNulls returns the number of null rows among the first n.
func (b Bitmap) CountNulls(n int) int {
	if b == nil {
		return 0
	}
	valid := 0
	full := n >> 6
	for i := 0; i < full; i++ {
		valid += bits.OnesCount64(b[i])
	}
	if rem := n & 63; rem != 0 {
		valid += bits.OnesCount64(b[full] & (1<<uint(rem) - 1))
	}
	return n - valid
}

// Column is one typed column of a batch. Exactly one value slice is used,
// by Type: I64 for Int64 and Timestamp (microseconds since the epoch, UTC),
// F64 for Double, B for Bool, S for String. Values at null rows are
// unspecified. Columns returned by an Evaluator are owned by it and valid
// until its next call.
type Column struct {
	Type  def.ValueType
	Len   int
	I64   []int64
	F64   []float64
	B     []bool
	S     []string
	Valid Bitmap
}

// Null reports whether row i is null.
func (c *Column) Null(i int) bool { return !c.Valid.Get(i) }

// Value returns row i as a Go value: int64, float64, bool, string,
// Timestamp, or nil for null.
func (c *Column) Value(i int) any {
	if c.Null(i) {
		return nil
	}
	switch c.Type {
	case def.Int64:
		return c.I64[i]
	case def.Timestamp:
		return Timestamp(c.I64[i])
	case def.Double:
		return c.F64[i]
	case def.Bool:
		return c.B[i]
	case def.String:
		return c.S[i]
	}
	return nil
}

// Timestamp is microseconds since the Unix epoch, UTC.
type Timestamp int64

// reset sizes c for n rows of type t, reusing its memory when it can, and
// marks every row valid.
func (c *Column) reset(t def.ValueType, n int) {
	c.Type, c.Len = t, n
	switch t {
	case def.Int64, def.Timestamp:
		c.I64 = grow(c.I64, n)
	case def.Double:
		c.F64 = grow(c.F64, n)
	case def.Bool:
		c.B = grow(c.B, n)
	case def.String:
		c.S = grow(c.S, n)
	}
	c.Valid = nil
}

// validity returns c's bitmap sized for n rows with every bit set, reusing
// memory, for kernels that produce nulls.
func (c *Column) allValid(spare *Bitmap, n int) Bitmap {
	w := words(n)
	if cap(*spare) < w {
		*spare = make(Bitmap, w)
	}
	b := (*spare)[:w]
	for i := range b {
		b[i] = ^uint64(0)
	}
	c.Valid = b
	return b
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// Batch is a set of equally long columns, laid out by a Schema.
type Batch struct {
	Len  int
	Cols []*Column
}

// Schema names and types the columns of a batch.
type Schema struct {
	Fields []def.Field
	index  map[string]int
	// unsupported names source columns fstore cannot read, with why, so
	// that referencing one says so instead of "unknown column".
	unsupported map[string]string
}

// hint returns a " (did you mean …?)" suffix for an unknown column name.
func (s *Schema) hint(name string) string {
	if why, ok := s.unsupported[name]; ok {
		return fmt.Sprintf(" fstore can read (it is %s)", why)
	}
	return def.HintFor(name, s.Names())
}

// NewSchema builds a schema; names must be unique.
func NewSchema(fields []def.Field) (*Schema, error) {
	s := &Schema{Fields: fields, index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if _, dup := s.index[f.Name]; dup {
			return nil, fmt.Errorf("compute: duplicate column %q in schema", f.Name)
		}
		if !f.Type.Valid() {
			return nil, fmt.Errorf("compute: column %q has no type", f.Name)
		}
		s.index[f.Name] = i
	}
	return s, nil
}

// Lookup returns the index of the column called name.
func (s *Schema) Lookup(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// Names returns the column names in order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// CheckBatch reports a batch that does not match the schema.
func (s *Schema) CheckBatch(b *Batch) error {
	if len(b.Cols) != len(s.Fields) {
		return fmt.Errorf("compute: batch has %d columns, schema %d", len(b.Cols), len(s.Fields))
	}
	for i, c := range b.Cols {
		if c.Type != s.Fields[i].Type {
			return fmt.Errorf("compute: column %q is %s in the batch, %s in the schema", s.Fields[i].Name, c.Type, s.Fields[i].Type)
		}
		if c.Len != b.Len {
			return fmt.Errorf("compute: column %q has %d rows, the batch %d", s.Fields[i].Name, c.Len, b.Len)
		}
		if c.Valid != nil && len(c.Valid) < words(b.Len) {
			return fmt.Errorf("compute: column %q has a validity bitmap of %d words for %d rows", s.Fields[i].Name, len(c.Valid), b.Len)
		}
		var n int
		switch c.Type {
		case def.Int64, def.Timestamp:
			n = len(c.I64)
		case def.Double:
			n = len(c.F64)
		case def.Bool:
			n = len(c.B)
		case def.String:
			n = len(c.S)
		}
		if n < b.Len {
			return fmt.Errorf("compute: column %q holds %d values for %d rows", s.Fields[i].Name, n, b.Len)
		}
	}
	return nil
}

// Reset sizes c for n rows of type t, reusing its memory, with every row
// valid and a nil bitmap.
func (c *Column) Reset(t def.ValueType, n int) { c.reset(t, n) }

// ResetBitmap is Reset with an explicit bitmap, every bit set to valid (or
// cleared when null is true), reusing c's bitmap memory: for builders that
// clear or set rows one by one.
func (c *Column) ResetBitmap(t def.ValueType, n int, null bool) {
	v := c.Valid
	c.reset(t, n)
	v = grow(v, words(n))
	fillWord := ^uint64(0)
	if null {
		fillWord = 0
	}
	for i := range v {
		v[i] = fillWord
	}
	c.Valid = v
}

// AppendZero grows c by one row holding the zero value of its type,
// valid; builders then set the value or clear the validity bit. c must
// have an explicit bitmap (ResetBitmap) unless it is empty.
func (c *Column) AppendZero() {
	row := c.Len
	switch c.Type {
	case def.Int64, def.Timestamp:
		c.I64 = append(c.I64[:row], 0)
	case def.Double:
		c.F64 = append(c.F64[:row], 0)
	case def.Bool:
		c.B = append(c.B[:row], false)
	case def.String:
		c.S = append(c.S[:row], "")
	}
	for len(c.Valid) < words(row+1) {
		c.Valid = append(c.Valid, 0)
	}
	c.Valid.Set(row)
	c.Len++
}

// CopyRow copies row j of src, a column of the same type, into row i of c.
// It does not touch validity.
func (c *Column) CopyRow(i int, src *Column, j int) { copyRow(c, i, src, j) }

// Gather sets c to the rows of src in the order of idx.
func (c *Column) Gather(src *Column, idx []int32) {
	c.ResetBitmap(src.Type, len(idx), src.Valid != nil)
	switch src.Type {
	case def.Int64, def.Timestamp:
		for i, j := range idx {
			c.I64[i] = src.I64[j]
		}
	case def.Double:
		for i, j := range idx {
			c.F64[i] = src.F64[j]
		}
	case def.Bool:
		for i, j := range idx {
			c.B[i] = src.B[j]
		}
	case def.String:
		for i, j := range idx {
			c.S[i] = src.S[j]
		}
	}
	if src.Valid == nil {
		c.Valid = nil
		return
	}
	for i, j := range idx {
		if src.Valid.Get(int(j)) {
			c.Valid.Set(i)
		}
	}
}
