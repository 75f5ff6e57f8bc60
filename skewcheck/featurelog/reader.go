package featurelog

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
)

// FileInfo is one published log file.
type FileInfo struct {
	Path string
	Size int64
	Meta Meta
}

// List returns the published log files under dir (a Logger's Dir, or one
// service's directory beneath it) holding requests in [since, until]: a
// file whose request_ts range meets it. A zero since or until leaves
// that end open. Temporary files (a leading '.', a ".tmp" suffix) and
// files not ending in ".parquet" are skipped. Files are sorted by service,
// then by name (time order). A file that is not a valid log is an error
// naming it (matching ErrFormat).
func List(dir string, since, until time.Time) ([]FileInfo, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".parquet") {
			return nil
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("featurelog: cannot list %s: %w", dir, err)
	}
	var out []FileInfo
	for _, p := range paths {
		pf, m, _, err := openLog(p)
		if err != nil {
			return nil, err
		}
		size := pf.Size
		pf.Close()
		if !since.IsZero() && m.LastRequestTS.Before(since) {
			continue
		}
		if !until.IsZero() && m.FirstRequestTS.After(until) {
			continue
		}
		out = append(out, FileInfo{Path: p, Size: size, Meta: *m})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Meta.Service != b.Meta.Service {
			return a.Meta.Service < b.Meta.Service
		}
		return filepath.Base(a.Path) < filepath.Base(b.Path)
	})
	return out, nil
}

// openLog opens path with compute's Parquet reader (which checks the
// footer before decoding it), decodes its metadata and checks every
// column against it. The schema returned is the one the metadata
// describes.
func openLog(path string) (*compute.ParquetFile, *Meta, *Schema, error) {
	pf, err := compute.OpenParquet(path, nil, nil)
	if err != nil {
		return nil, nil, nil, &formatError{path: path, msg: trimPath(path, err)}
	}
	m, s, err := checkLog(path, pf.File)
	if err != nil {
		pf.Close()
		return nil, nil, nil, err
	}
	return pf, m, s, nil
}

// maxRowsPerByte bounds a file's rows by its size before columns are
// allocated, so that a corrupt row count cannot make the reader allocate
// gigabytes. Even identical rows compressed take more than 1/64 byte each
// in fstore's files (every row has request_id, request_ts and a
// definition level per nullable column).
const maxRowsPerByte = 64

func checkLog(path string, f *parquet.File) (*Meta, *Schema, error) {
	bad := func(format string, args ...any) error {
		return &formatError{path: path, msg: fmt.Sprintf(format, args...)}
	}
	js, ok := f.Lookup(MetadataKey)
	if !ok {
		return nil, nil, bad("no %q metadata: not an fstore feature log", MetadataKey)
	}
	m, err := DecodeMeta(path, []byte(js))
	if err != nil {
		return nil, nil, err
	}
	s, _ := schemaOf(m)
	if n := f.NumRows(); n != m.Rows {
		return nil, nil, bad("holds %d rows, its metadata says %d", n, m.Rows)
	}
	if m.Rows > f.Size()*maxRowsPerByte {
		return nil, nil, bad("claims %d rows in %d bytes", m.Rows, f.Size())
	}
	var sum int64
	for i, rg := range f.RowGroups() {
		if n := rg.NumRows(); n < 0 || n > m.Rows-sum {
			return nil, nil, bad("row group %d claims %d rows, more than the file's %d", i, n, m.Rows)
		} else {
			sum += n
		}
	}
	fields := f.Schema().Fields()
	byName := make(map[string]parquet.Field, len(fields))
	for _, fd := range fields {
		byName[fd.Name()] = fd
	}
	if len(fields) != len(s.cols) {
		return nil, nil, bad("has %d columns, its metadata lists %d", len(fields), len(s.cols))
	}
	for j, c := range s.cols {
		fd, ok := byName[c.Name]
		if !ok {
			return nil, nil, bad("has no column %q (%s)", c.Name, c.Role)
		}
		pc := compute.ParquetColumnOf(fd)
		switch {
		case pc.Unsupported != "":
			return nil, nil, bad("column %q is %s, want %s", c.Name, pc.Unsupported, c.Type)
		case pc.Type != s.types[j]:
			return nil, nil, bad("column %q is %s, want %s", c.Name, pc.Type, c.Type)
		case c.Role == RoleStatus && fd.Type().Kind() != parquet.Int32:
			return nil, nil, bad("column %q is %s, want INT32", c.Name, fd.Type().Kind())
		case !c.Nullable && !fd.Required():
			return nil, nil, bad("column %q is nullable, want required", c.Name)
		}
	}
	return m, s, nil
}

// File is one log file read whole: its metadata and typed columns, each of
// Rows rows. Timestamps are microseconds since the epoch (UTC).
type File struct {
	Path string
	Meta Meta
	// Schema is the schema the file was written with, rebuilt from Meta.
	Schema *Schema
	Rows   int
	// RequestID and RequestTS are never null.
	RequestID []string
	RequestTS []int64
	// Keys[k] and Context[c] follow Schema.Keys and Schema.Context.
	Keys, Context []*compute.Column
	// Features follow Schema.Features.
	Features []FeatureColumns
	// Model holds the model columns, or nil when the schema has none.
	Model *ModelColumns
}

// FeatureColumns are one feature's columns.
type FeatureColumns struct {
	// Name is <view>__<feature>.
	Name  string
	Value *compute.Column
	// Status is never 0: PRESENT, NULL_VALUE, NOT_FOUND or OUTSIDE_MAX_AGE.
	Status []featurestore.Status
	// EventTS is a Timestamp column, null where the value has no event
	// time.
	EventTS *compute.Column
}

// ModelColumns are the model columns: STRING endpoint and model, INT64
// version, DOUBLE prediction; each nullable.
type ModelColumns struct {
	Endpoint, Model, ModelVersion, Prediction *compute.Column
}

// ReadFile reads a whole log file. Errors match ErrFormat and name the
// file and what is wrong with it; a corrupt file never panics the reader.
// Files are at most MaxFileBytes, so reading one whole is bounded.
func ReadFile(path string) (*File, error) {
	pf, m, s, err := openLog(path)
	if err != nil {
		return nil, err
	}
	pf.Close()
	fields := make([]def.Field, len(s.cols))
	for j, c := range s.cols {
		fields[j] = def.Field{Name: c.Name, Type: s.types[j]}
	}
	p, err := compute.OpenParquet(path, fields, nil)
	if err != nil {
		return nil, &formatError{path: path, msg: trimPath(path, err)}
	}
	defer p.Close()
	n := int(m.Rows)
	all := make([]*compute.Column, len(fields))
	for j := range all {
		all[j] = newColumn(s.types[j], n)
	}
	var (
		b    compute.Batch
		vals []parquet.Value
		off  int
	)
	for g := range p.File.RowGroups() {
		if vals, err = p.ReadRowGroup(g, &b, vals); err != nil {
			return nil, &formatError{path: path, msg: fmt.Sprintf("row group %d: %s", g, trimPath(path, err))}
		}
		if off+b.Len > n {
			return nil, &formatError{path: path, msg: fmt.Sprintf("row group %d overruns the file's %d rows", g, n)}
		}
		for j, c := range b.Cols {
			appendColumn(all[j], c, off, b.Len)
		}
		off += b.Len
	}
	if off != n {
		return nil, &formatError{path: path, msg: fmt.Sprintf("row groups hold %d rows, the file %d", off, n)}
	}
	f := &File{Path: path, Meta: *m, Schema: s, Rows: n}
	for j := 0; j < 2; j++ {
		if nulls := all[j].Valid.CountNulls(n); nulls != 0 {
			return nil, &formatError{path: path, msg: fmt.Sprintf("column %q has %d nulls", s.cols[j].Name, nulls)}
		}
	}
	f.RequestID, f.RequestTS = all[0].S, all[1].I64
	f.Keys = all[s.keyCol:s.ctxCol]
	f.Context = all[s.ctxCol:s.featCol]
	for i, fd := range s.Features {
		j := s.featCol + 3*i
		st := make([]featurestore.Status, n)
		for r, v := range all[j+1].I64 {
			if v < int64(featurestore.Present) || v > int64(featurestore.OutsideMaxAge) || all[j+1].Null(r) {
				return nil, &formatError{path: path, msg: fmt.Sprintf("column %q row %d: status %d is not a FieldStatus (1-4)", s.cols[j+1].Name, r, v)}
			}
			st[r] = featurestore.Status(v)
		}
		f.Features = append(f.Features, FeatureColumns{Name: fd.Name, Value: all[j], Status: st, EventTS: all[j+2]})
	}
	if s.Model {
		j := s.modelCol
		f.Model = &ModelColumns{Endpoint: all[j], Model: all[j+1], ModelVersion: all[j+2], Prediction: all[j+3]}
	}
	return f, nil
}

// newColumn makes an n-row column of type t with every row null.
func newColumn(t def.ValueType, n int) *compute.Column {
	c := &compute.Column{Type: t, Len: n, Valid: make(compute.Bitmap, (n+63)/64)}
	switch t {
	case def.Int64, def.Timestamp:
		c.I64 = make([]int64, n)
	case def.Double:
		c.F64 = make([]float64, n)
	case def.Bool:
		c.B = make([]bool, n)
	case def.String:
		c.S = make([]string, n)
	}
	return c
}

// appendColumn copies rows [0, k) of src into dst at off.
func appendColumn(dst, src *compute.Column, off, k int) {
	switch dst.Type {
	case def.Int64, def.Timestamp:
		copy(dst.I64[off:], src.I64[:k])
	case def.Double:
		copy(dst.F64[off:], src.F64[:k])
	case def.Bool:
		copy(dst.B[off:], src.B[:k])
	case def.String:
		copy(dst.S[off:], src.S[:k])
	}
	for i := 0; i < k; i++ {
		if !src.Null(i) {
			dst.Valid.Set(off + i)
		}
	}
}

// trimPath drops path from the front of a compute error, which names the
// file too, so that the formatError names it once.
func trimPath(path string, err error) string {
	msg := strings.TrimPrefix(err.Error(), path)
	return strings.TrimLeft(msg, ": ")
}
