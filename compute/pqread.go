package compute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/featurestore/def"
)

// ParquetFile is an open Parquet file with the leaf indexes and conversions
// of the columns it projects: the one Parquet reader of backfill and
// materialisation.
type ParquetFile struct {
	// Path and Size name the file; File is its parquet-go handle.
	Path string
	File *parquet.File
	Size int64
	f    *os.File
	// cols are the projected columns, in the order batches carry them.
	cols []pqCol
}

type pqCol struct {
	name           string
	leaf           int
	typ            def.ValueType
	unit           int // ParquetColumn.Unit
	maxRep, maxDef int // the leaf's maximum repetition and definition levels
}

// OpenParquet opens path and resolves the named columns, checking their
// types against fields; a column named in timeCols may be TIMESTAMP (any
// unit) or INT64 microseconds. Errors match ErrInput and name the file and
// column.
func OpenParquet(path string, fields []def.Field, timeCols map[string]bool) (*ParquetFile, error) {
	f, pf, size, err := openParquetFile(path)
	if np := (notParquetError{}); errors.As(err, &np) {
		return nil, inputErrorf("%s is not a readable Parquet file: %v", path, np.err)
	} else if err != nil {
		return nil, inputErrorf("%v", err)
	}
	p := &ParquetFile{Path: path, f: f, File: pf, Size: size}
	byName := map[string]ParquetColumn{}
	for _, fd := range pf.Schema().Fields() {
		byName[fd.Name()] = ParquetColumnOf(fd)
	}
	for _, want := range fields {
		pc, ok := byName[want.Name]
		if !ok {
			f.Close()
			return nil, inputErrorf("%s has no column %q%s", path, want.Name, def.HintFor(want.Name, parquetNames(pf)))
		}
		if pc.Unsupported != "" {
			f.Close()
			return nil, inputErrorf("%s: column %q is %s, which fstore does not read", path, want.Name, pc.Unsupported)
		}
		ok = pc.Type == want.Type
		if timeCols[want.Name] && (pc.Type == def.Timestamp || pc.Type == def.Int64) {
			ok = true
		}
		if !ok {
			f.Close()
			return nil, inputErrorf("%s: column %q is %s, want %s", path, want.Name, pc.Type, want.Type)
		}
		lc, _ := pf.Schema().Lookup(want.Name)
		p.cols = append(p.cols, pqCol{name: want.Name, leaf: lc.ColumnIndex, typ: want.Type, unit: pc.Unit,
			maxRep: lc.MaxRepetitionLevel, maxDef: lc.MaxDefinitionLevel})
	}
	return p, nil
}

func parquetNames(pf *parquet.File) []string {
	var out []string
	for _, f := range pf.Schema().Fields() {
		out = append(out, f.Name())
	}
	return out
}

// Close closes the file.
func (p *ParquetFile) Close() { p.f.Close() }

// ReadRowGroup reads the projected columns of row group i into b, reusing
// its columns' memory; vals is scratch, returned for reuse. Timestamps
// become microseconds; INT32 widens. Errors match ErrInput.
func (p *ParquetFile) ReadRowGroup(i int, b *Batch, vals []parquet.Value) ([]parquet.Value, error) {
	rg := p.File.RowGroups()[i]
	n := int(rg.NumRows())
	b.Len = n
	for len(b.Cols) < len(p.cols) {
		b.Cols = append(b.Cols, &Column{})
	}
	b.Cols = b.Cols[:len(p.cols)]
	for ci, pc := range p.cols {
		c := b.Cols[ci]
		c.ResetBitmap(pc.typ, n, false)
		if p.readPlain(i, pc, c, n) {
			continue
		}
		pages := rg.ColumnChunks()[pc.leaf].Pages()
		row := 0
		for row < n {
			page, err := pages.ReadPage()
			if err != nil {
				pages.Close()
				if errors.Is(err, io.EOF) {
					return vals, inputErrorf("%s: column %q ends after %d of %d rows", p.Path, pc.name, row, n)
				}
				return vals, inputErrorf("%s: column %q: %v", p.Path, pc.name, err)
			}
			vr := page.Values()
			if k, ok, err := readTyped(c, row, n, page, vr, pc); err != nil {
				parquet.Release(page)
				pages.Close()
				return vals, inputErrorf("%s: column %q: %v", p.Path, pc.name, err)
			} else if ok {
				row += k
				parquet.Release(page)
				continue
			}
			for {
				if cap(vals) < 4096 {
					vals = make([]parquet.Value, 4096)
				}
				vals = vals[:cap(vals)]
				k, err := vr.ReadValues(vals)
				for _, v := range vals[:k] {
					if row >= n {
						break
					}
					if v.IsNull() {
						c.Valid.Clear(row)
					} else {
						setParquetValue(c, row, v, pc)
					}
					row++
				}
				if err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					parquet.Release(page)
					pages.Close()
					return vals, inputErrorf("%s: column %q: %v", p.Path, pc.name, err)
				}
			}
			parquet.Release(page)
		}
		pages.Close()
	}
	return vals, nil
}

func setParquetValue(c *Column, row int, v parquet.Value, pc pqCol) {
	switch pc.typ {
	case def.Int64, def.Timestamp:
		var x int64
		if v.Kind() == parquet.Int32 {
			x = int64(v.Int32())
		} else {
			x = v.Int64()
		}
		c.I64[row] = TimestampMicros(x, pc.unit)
	case def.Double:
		if v.Kind() == parquet.Float {
			c.F64[row] = float64(v.Float())
		} else {
			c.F64[row] = v.Double()
		}
	case def.Bool:
		c.B[row] = v.Boolean()
	case def.String:
		c.S[row] = string(v.ByteArray())
	}
}

// readTyped reads a page without nulls straight into c's values through
// the typed readers parquet-go offers for INT64 and DOUBLE pages, skipping
// one parquet.Value per cell. It reports ok false, having read nothing,
// when the page does not qualify (the caller then takes the general path),
// and an error when a qualifying page ends early.
func readTyped(c *Column, row, n int, page parquet.Page, vr parquet.ValueReader, pc pqCol) (int, bool, error) {
	if page.NumNulls() != 0 {
		return 0, false, nil
	}
	want := int(page.NumValues())
	if want > n-row {
		return 0, false, nil
	}
	short := func(got int) error { return fmt.Errorf("page holds %d of its %d values", got, want) }
	switch pc.typ {
	case def.Int64, def.Timestamp:
		r, ok := vr.(parquet.Int64Reader)
		if !ok || page.Type().Kind() != parquet.Int64 {
			return 0, false, nil
		}
		dst := c.I64[row : row+want]
		got := 0
		for got < want {
			k, err := r.ReadInt64s(dst[got:])
			got += k
			if err != nil || k == 0 {
				break
			}
		}
		if got != want {
			return 0, false, short(got)
		}
		convertUnit(dst, pc.unit)
		return want, true, nil
	case def.Double:
		r, ok := vr.(parquet.DoubleReader)
		if !ok || page.Type().Kind() != parquet.Double {
			return 0, false, nil
		}
		dst := c.F64[row : row+want]
		got := 0
		for got < want {
			k, err := r.ReadDoubles(dst[got:])
			got += k
			if err != nil || k == 0 {
				break
			}
		}
		if got != want {
			return 0, false, short(got)
		}
		return want, true, nil
	}
	return 0, false, nil
}

// inputError is a problem with input data; it matches ErrInput.
type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInput }

func inputErrorf(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// openParquetFile opens path as a Parquet file, its footer checked
// (checkFooter) before parquet-go decodes it; every Parquet file fstore
// reads is opened here. An error opening the file is the os package's; one
// in its contents is a notParquetError. The caller closes f.
func openParquetFile(path string) (*os.File, *parquet.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	if err := checkFooter(f, st.Size()); err != nil {
		f.Close()
		return nil, nil, 0, notParquetError{err}
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return nil, nil, 0, notParquetError{err}
	}
	return f, pf, st.Size(), nil
}

// notParquetError is a file whose contents are not readable Parquet.
type notParquetError struct{ err error }

func (e notParquetError) Error() string { return e.err.Error() }
func (e notParquetError) Unwrap() error { return e.err }

// checkFooter checks the shape of a Parquet file's footer before
// parquet-go decodes it: the trailing magic, a footer length inside the
// file, and a Thrift struct (thriftStructLen) that fills the footer
// exactly and declares no string or list longer than the footer.
// parquet-go's decoder allocates declared lengths before reading them,
// so a corrupt footer could otherwise make it allocate gigabytes.
func checkFooter(f *os.File, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes: too short", size)
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return errors.New("no PAR1 magic at the end (truncated?)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n == 0 || n > size-12 {
		return fmt.Errorf("footer of %d bytes in a %d-byte file (truncated?)", n, size)
	}
	footer := make([]byte, n)
	if _, err := f.ReadAt(footer, size-8-n); err != nil {
		return err
	}
	if got, ok := thriftStructLen(footer); !ok || int64(got) != n {
		return errors.New("corrupt footer metadata")
	}
	return nil
}
