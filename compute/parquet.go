package compute

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/fstore/fstore/featurestore/def"
)

// SourceFiles lists the Parquet files of a source path: the file itself, every
// *.parquet file under a directory, or the matches of a glob; sorted. It is
// an error when nothing matches.
func SourceFiles(path string) ([]string, error) {
	var files []string
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("bad glob %q: %w", path, err)
		}
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && !st.IsDir() {
				files = append(files, f)
			}
		}
	} else {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return []string{path}, nil
		}
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".parquet") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Parquet files match %s", path)
	}
	sort.Strings(files)
	return files, nil
}

// ParquetColumn describes one top-level column of a Parquet file as fstore
// reads it.
type ParquetColumn struct {
	Name string
	// Type is the fstore type, valid only when Unsupported is empty.
	Type def.ValueType
	// Unit is the timestamp unit of TIMESTAMP columns: 1 (micros), 1000
	// (millis) or -1000 (nanos, divide); 0 for INT64 microseconds.
	Unit int
	// Unsupported says why fstore cannot read the column, if it cannot.
	Unsupported string
}

// ParquetSchema reads the schema of the first file of a source path.
func ParquetSchema(path string) ([]ParquetColumn, error) {
	files, err := SourceFiles(path)
	if err != nil {
		return nil, err
	}
	f, pf, _, err := openParquetFile(files[0])
	if np := (notParquetError{}); errors.As(err, &np) {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", files[0], np.err)
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	var cols []ParquetColumn
	for _, field := range pf.Schema().Fields() {
		cols = append(cols, parquetColumn(field))
	}
	return cols, nil
}

// ParquetColumnOf describes one top-level field of a Parquet schema.
func ParquetColumnOf(n parquet.Field) ParquetColumn { return parquetColumn(n) }

func parquetColumn(n parquet.Field) ParquetColumn {
	c := ParquetColumn{Name: n.Name()}
	switch {
	case !n.Leaf():
		c.Unsupported = "a nested group"
		return c
	case n.Repeated():
		c.Unsupported = "a repeated (list) column"
		return c
	}
	t := n.Type()
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.TimestampType:
			c.Type = def.Timestamp
			switch v.Unit.Value.(type) {
			case *format.MilliSeconds:
				c.Unit = 1000
			case *format.NanoSeconds:
				c.Unit = -1000
			default:
				c.Unit = 1
			}
			return c
		case *format.StringType, *format.EnumType, *format.JsonType:
			c.Type = def.String
			return c
		case *format.IntType:
			c.Type = def.Int64
			if !v.IsSigned && v.BitWidth == 64 {
				c.Unsupported = "an unsigned 64-bit integer"
			}
			return c
		case *format.DecimalType:
			c.Unsupported = "a DECIMAL (cast it to DOUBLE when writing)"
			return c
		case *format.DateType:
			c.Unsupported = "a DATE (write a TIMESTAMP)"
			return c
		}
	}
	if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.UTF8:
			c.Type = def.String
			return c
		case deprecated.TimestampMillis:
			c.Type, c.Unit = def.Timestamp, 1000
			return c
		case deprecated.TimestampMicros:
			c.Type, c.Unit = def.Timestamp, 1
			return c
		}
	}
	switch t.Kind() {
	case parquet.Boolean:
		c.Type = def.Bool
	case parquet.Int32, parquet.Int64:
		c.Type = def.Int64
	case parquet.Float, parquet.Double:
		c.Type = def.Double
	case parquet.ByteArray:
		c.Type = def.String
	case parquet.Int96:
		c.Unsupported = "an INT96 timestamp (write TIMESTAMP(MICROS))"
	default:
		c.Unsupported = fmt.Sprintf("of Parquet type %s", t)
	}
	return c
}
