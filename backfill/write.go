package backfill

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/internal/pqschema"
)

func featureNode(t def.ValueType) parquet.Node {
	var n parquet.Node
	switch t {
	case def.Int64:
		n = parquet.Int(64)
	case def.Double:
		n = parquet.Leaf(parquet.DoubleType)
	case def.Bool:
		n = parquet.Leaf(parquet.BooleanType)
	case def.String:
		n = parquet.String()
	case def.Timestamp:
		n = parquet.Timestamp(parquet.Microsecond)
	}
	return parquet.Optional(n)
}

// outputWriter writes the training set to a temporary file beside out.
type outputWriter struct {
	out, tmp  string
	f         *os.File
	w         *parquet.GenericWriter[any]
	spineLeaf int // number of leaf columns the spine contributes
	// flat is set when every spine column is a top-level, non-repeated
	// leaf: one value per row, so columns can be copied column by column.
	flat bool
}

func newOutputWriter(out string, spine *parquet.Schema, keep *spineCols, features []def.Field, meta map[string]string, rowGroup int64) (*outputWriter, error) {
	codec := &zstd.Codec{Level: zstd.SpeedFastest}
	var fields []parquet.Field
	flat := true
	for _, fi := range keep.fields {
		f := spine.Fields()[fi]
		if !f.Leaf() || f.Repeated() {
			flat = false
			fields = append(fields, f)
			continue
		}
		// A file's columns name the codec they were read with, which the
		// writer would use (at its default level); the output's codec
		// applies to every column instead.
		fields = append(fields, pqschema.Named(f.Name(), parquet.Compressed(f, codec)))
	}
	for _, f := range features {
		fields = append(fields, pqschema.Named(f.Name, featureNode(f.Type)))
	}
	schema := parquet.NewSchema("training_set", pqschema.Ordered(fields))
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("backfill: cannot create output: %w", err)
	}
	opts := []parquet.WriterOption{schema, parquet.Compression(codec), parquet.MaxRowsPerRowGroup(rowGroup), parquet.CreatedBy("fstore", "", "")}
	for k, v := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	return &outputWriter{out: out, tmp: tmp.Name(), f: tmp, w: parquet.NewGenericWriter[any](tmp, opts...), spineLeaf: len(keep.leaves), flat: flat}, nil
}

// buildRows appends the feature columns' values at rows [off, off+len) to
// spine rows, in place.
func (o *outputWriter) buildRows(spineRows []parquet.Row, features []*compute.Column, off int) []parquet.Row {
	for k, r := range spineRows {
		row := r
		i := off + k
		for j, c := range features {
			col := o.spineLeaf + j
			if c == nil || c.Null(i) {
				row = append(row, parquet.NullValue().Level(0, 0, col))
				continue
			}
			var v parquet.Value
			switch c.Type {
			case def.Int64, def.Timestamp:
				v = parquet.Int64Value(c.I64[i])
			case def.Double:
				v = parquet.DoubleValue(c.F64[i])
			case def.Bool:
				v = parquet.BooleanValue(c.B[i])
			case def.String:
				v = parquet.ByteArrayValue([]byte(c.S[i]))
			}
			row = append(row, v.Level(0, 1, col))
		}
		spineRows[k] = row
	}
	return spineRows
}

// appendFeatureValues appends rows [lo, hi) of feature column c, the
// output's leaf column col, as values. One loop per type keeps the type
// switch out of the per-value path.
func appendFeatureValues(vals []parquet.Value, c *compute.Column, col, lo, hi int) []parquet.Value {
	null := parquet.NullValue().Level(0, 0, col)
	switch c.Type {
	case def.Int64, def.Timestamp:
		for i := lo; i < hi; i++ {
			if c.Null(i) {
				vals = append(vals, null)
			} else {
				vals = append(vals, parquet.Int64Value(c.I64[i]).Level(0, 1, col))
			}
		}
	case def.Double:
		for i := lo; i < hi; i++ {
			if c.Null(i) {
				vals = append(vals, null)
			} else {
				vals = append(vals, parquet.DoubleValue(c.F64[i]).Level(0, 1, col))
			}
		}
	case def.Bool:
		for i := lo; i < hi; i++ {
			if c.Null(i) {
				vals = append(vals, null)
			} else {
				vals = append(vals, parquet.BooleanValue(c.B[i]).Level(0, 1, col))
			}
		}
	case def.String:
		for i := lo; i < hi; i++ {
			if c.Null(i) {
				vals = append(vals, null)
			} else {
				vals = append(vals, parquet.ByteArrayValue([]byte(c.S[i])).Level(0, 1, col))
			}
		}
	}
	return vals
}

// commit finishes the file and renames it into place.
func (o *outputWriter) commit() error {
	if err := o.w.Close(); err != nil {
		o.abort()
		return fmt.Errorf("backfill: cannot write output: %w", err)
	}
	if err := o.f.Sync(); err != nil {
		o.abort()
		return fmt.Errorf("backfill: cannot write output: %w", err)
	}
	if err := o.f.Close(); err != nil {
		os.Remove(o.tmp)
		return fmt.Errorf("backfill: cannot write output: %w", err)
	}
	if err := os.Rename(o.tmp, o.out); err != nil {
		os.Remove(o.tmp)
		return fmt.Errorf("backfill: cannot move output into place: %w", err)
	}
	return nil
}

// abort removes the temporary file; the output path is left untouched.
func (o *outputWriter) abort() {
	o.f.Close()
	os.Remove(o.tmp)
}
