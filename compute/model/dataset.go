package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// Dataset is a training set in memory: a feature matrix and a label.
type Dataset struct {
	// Features names X's columns, in order.
	Features []string
	// X holds Rows×len(Features) values, row-major; a null is NaN, a bool
	// is 0 or 1, an INT64 or DOUBLE the nearest float32.
	X []float32
	// Y holds the Rows labels; a bool label is 0 or 1.
	Y    []float32
	Rows int
	// DroppedNullLabels counts the rows left out because their label was
	// null (or NaN).
	DroppedNullLabels int
	// Metadata is the Parquet key-value metadata of the (first) file;
	// backfill stores its lineage JSON under "fstore.lineage".
	Metadata map[string]string
}

// LineageKey is the Parquet metadata key under which backfill records a
// training set's lineage.
const LineageKey = "fstore.lineage"

// ReadDataset reads a training set from a backfill output: a Parquet file,
// a directory of them or a glob (files in sorted order, rows concatenated;
// every file must have the chosen columns with the same types).
//
// With features nil it takes every column whose name contains "__"
// (backfill's "<view>__<feature>" columns) of type INT64, DOUBLE or BOOL,
// in file order, other than the label; columns of other types are skipped.
// Named features must exist and be INT64, DOUBLE or BOOL. The label must be
// a BOOL, INT64 or DOUBLE column; rows where it is null or NaN are dropped
// and counted. Values must be finite in float32. Errors match ErrInput and
// name the file and column.
func ReadDataset(path, label string, features []string) (ds *Dataset, err error) {
	// parquet-go can panic on some corrupt pages; a bad file must be an
	// error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			ds, err = nil, inputErrorf("training set %s: corrupt Parquet data: %v", path, r)
		}
	}()
	files, err := compute.SourceFiles(path)
	if err != nil {
		return nil, wrapInput(err, "training set %s", path)
	}
	cols, err := compute.ParquetSchema(files[0])
	if err != nil {
		return nil, wrapInput(err, "training set")
	}
	fields, err := chooseColumns(files[0], cols, label, features)
	if err != nil {
		return nil, err
	}
	ds = &Dataset{Metadata: map[string]string{}}
	for _, f := range fields[:len(fields)-1] {
		ds.Features = append(ds.Features, f.Name)
	}
	for i, file := range files {
		if err := ds.readFile(file, fields, i == 0); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func isNumeric(t def.ValueType) bool {
	return t == def.Int64 || t == def.Double || t == def.Bool
}

// chooseColumns resolves the features and the label against the schema of
// file; the label is the last field returned.
func chooseColumns(file string, cols []compute.ParquetColumn, label string, features []string) ([]def.Field, error) {
	byName := make(map[string]compute.ParquetColumn, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		byName[c.Name] = c
		names[i] = c.Name
	}
	lookup := func(name, role string) (compute.ParquetColumn, error) {
		c, ok := byName[name]
		if !ok {
			return c, inputErrorf("training set %s has no %s column %q%s", file, role, name, def.HintFor(name, names))
		}
		if c.Unsupported != "" {
			return c, inputErrorf("training set %s: %s column %q is %s; want BOOL, INT64 or DOUBLE", file, role, name, c.Unsupported)
		}
		if !isNumeric(c.Type) {
			return c, inputErrorf("training set %s: %s column %q is %s; want BOOL, INT64 or DOUBLE", file, role, name, c.Type)
		}
		return c, nil
	}
	if label == "" {
		return nil, inputErrorf("training set %s: no label column named", file)
	}
	lc, err := lookup(label, "label")
	if err != nil {
		return nil, err
	}
	var fields []def.Field
	if features == nil {
		for _, c := range cols {
			if c.Name != label && strings.Contains(c.Name, "__") && c.Unsupported == "" && isNumeric(c.Type) {
				fields = append(fields, def.Field{Name: c.Name, Type: c.Type})
			}
		}
		if len(fields) == 0 {
			return nil, inputErrorf("training set %s has no BOOL, INT64 or DOUBLE \"<view>__<feature>\" columns to train on (columns: %s)", file, strings.Join(names, ", "))
		}
	} else {
		if len(features) == 0 {
			return nil, inputErrorf("training set %s: an empty feature list", file)
		}
		seen := map[string]bool{}
		for _, name := range features {
			if name == label {
				return nil, inputErrorf("training set %s: column %q is both the label and a feature", file, name)
			}
			if seen[name] {
				return nil, inputErrorf("training set %s: feature %q listed twice", file, name)
			}
			seen[name] = true
			c, err := lookup(name, "feature")
			if err != nil {
				return nil, err
			}
			fields = append(fields, def.Field{Name: c.Name, Type: c.Type})
		}
	}
	if len(fields) > MaxInputs {
		return nil, inputErrorf("training set %s: %d features, at most %d", file, len(fields), MaxInputs)
	}
	return append(fields, def.Field{Name: lc.Name, Type: lc.Type}), nil
}

// readFile appends the rows of one file.
func (ds *Dataset) readFile(file string, fields []def.Field, first bool) error {
	pf, err := compute.OpenParquet(file, fields, nil)
	if err != nil {
		return wrapInput(err, "training set")
	}
	defer pf.Close()
	if first {
		for _, kv := range pf.File.Metadata().KeyValueMetadata {
			ds.Metadata[kv.Key] = kv.Value
		}
	}
	nf := len(fields) - 1
	var (
		b    compute.Batch
		vals []parquet.Value
	)
	base := 0 // rows of this file before the current row group
	for rg := range pf.File.RowGroups() {
		if vals, err = pf.ReadRowGroup(rg, &b, vals); err != nil {
			return wrapInput(err, "training set")
		}
		lab := b.Cols[nf]
		for i := range b.Len {
			y, ok := ColumnValue(lab, i)
			if !ok || math.IsNaN(float64(y)) {
				ds.DroppedNullLabels++
				continue
			}
			if math.IsInf(float64(y), 0) {
				return inputErrorf("training set %s: label %q row %d: %v is not finite as float32", file, fields[nf].Name, base+i, lab.Value(i))
			}
			for j, c := range b.Cols[:nf] {
				v, ok := ColumnValue(c, i)
				if !ok {
					v = float32(math.NaN())
				} else if math.IsInf(float64(v), 0) {
					return inputErrorf("training set %s: column %q row %d: %v is not finite as float32", file, fields[j].Name, base+i, c.Value(i))
				}
				ds.X = append(ds.X, v)
			}
			ds.Y = append(ds.Y, y)
			ds.Rows++
		}
		base += b.Len
	}
	return nil
}

// ColumnValue returns row i of c as a model input, or false when it is
// null: INT64 and DOUBLE converted to float32, BOOL as 0 or 1. It is the
// one conversion from feature values to model inputs: ReadDataset uses it
// for training sets and serving for features fetched online, so a model
// sees the same number for the same value on both paths. c must be one of
// those types.
func ColumnValue(c *compute.Column, i int) (float32, bool) {
	if c.Null(i) {
		return 0, false
	}
	switch c.Type {
	case def.Int64:
		return float32(c.I64[i]), true
	case def.Double:
		return float32(c.F64[i]), true
	case def.Bool:
		if c.B[i] {
			return 1, true
		}
		return 0, true
	}
	panic(fmt.Sprintf("model: cellValue of a %s column", c.Type))
}
