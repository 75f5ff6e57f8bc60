package replay

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/skewcheck/featurelog"
)

// The spine's own columns. Served values and statuses ride along in the
// spine as servedPrefix+<view>__<feature> and statusPrefix+<view>__<feature>,
// so that backfill carries them into its output beside the values it
// recomputes: the comparison then reads one file, row group by row group.
const (
	rowColumn     = "replay_row"
	servedPrefix  = "replay_served__"
	statusPrefix  = "replay_status__"
	requestIDCol  = "request_id"
	requestTSCol  = "request_ts"
	spineRowGroup = 64 << 10 // rows; below backfill's output row group, so spine chunks are copied as they are
)

// spineLayout is the spine's columns, in order: replay_row, request_id,
// request_ts, the join keys, the request context fields, then per feature
// its served value and status.
type spineLayout struct {
	fields []def.Field
	// nullable[j] is false for replay_row, request_id, request_ts and the
	// statuses.
	nullable []bool
	// keyCol, ctxCol and featCol are the first columns of each part.
	keyCol, ctxCol, featCol int
}

func newSpineLayout(s *featurelog.Schema) (*spineLayout, error) {
	l := &spineLayout{}
	seen := map[string]bool{}
	add := func(name string, t def.ValueType, nullable bool) error {
		if seen[name] {
			return fmt.Errorf("%w: service %q: logged column %q has the name of a column replay adds", ErrLog, s.Service, name)
		}
		seen[name] = true
		l.fields = append(l.fields, def.Field{Name: name, Type: t})
		l.nullable = append(l.nullable, nullable)
		return nil
	}
	_ = add(rowColumn, def.Int64, false)
	_ = add(requestIDCol, def.String, false)
	_ = add(requestTSCol, def.Timestamp, false)
	l.keyCol = len(l.fields)
	for _, f := range s.Keys {
		if err := add(f.Name, f.Type, true); err != nil {
			return nil, err
		}
	}
	l.ctxCol = len(l.fields)
	for _, f := range s.Context {
		if err := add(f.Name, f.Type, true); err != nil {
			return nil, err
		}
	}
	l.featCol = len(l.fields)
	for _, f := range s.Features {
		if err := add(servedPrefix+f.Name, f.Type, true); err != nil {
			return nil, err
		}
		if err := add(statusPrefix+f.Name, def.Int64, false); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// spineWriter writes a spine column by column: each column's values of a
// row range are built into one reused []parquet.Value and handed to the
// column's writer, so nothing is allocated per value.
type spineWriter struct {
	l    *spineLayout
	f    *os.File
	bw   *bufio.Writer
	pw   *parquet.GenericWriter[any]
	cw   []*parquet.ColumnWriter
	vals []parquet.Value
	// rows is the number of rows written, the next replay_row.
	rows int64
	// pending counts the rows of the open row group.
	pending int
}

func newSpineWriter(path string, l *spineLayout) (*spineWriter, error) {
	fields := make([]parquet.Field, len(l.fields))
	for j, f := range l.fields {
		var n parquet.Node
		switch {
		case f.Name == rowColumn:
			n = parquet.Int(64)
		case j >= l.featCol && (j-l.featCol)%2 == 1:
			n = parquet.Int(32)
		default:
			switch f.Type {
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
		}
		if l.nullable[j] {
			n = parquet.Optional(n)
		}
		fields[j] = namedField{Node: n, name: f.Name}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("replay: cannot create spine: %w", err)
	}
	w := &spineWriter{l: l, f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	// Uncompressed: the spine is a temporary file read once, by backfill,
	// and copied into its output; speed matters more than size.
	w.pw = parquet.NewGenericWriter[any](w.bw, parquet.NewSchema("replay_spine", orderedGroup{fields: fields}),
		parquet.Compression(&uncompressed.Codec{}), parquet.CreatedBy("fstore", "", ""))
	w.cw = w.pw.ColumnWriters()
	return w, nil
}

// writeFile appends the rows of f whose request_ts is in [since, until]
// (microseconds, inclusive).
func (w *spineWriter) writeFile(f *featurelog.File, since, until int64) error {
	var sel []int32
	for i, ts := range f.RequestTS {
		if ts >= since && ts <= until {
			sel = append(sel, int32(i))
		}
	}
	for start := 0; start < len(sel); {
		end := min(len(sel), start+spineRowGroup-w.pending)
		if err := w.writeRows(f, sel[start:end]); err != nil {
			return err
		}
		start = end
		if w.pending == spineRowGroup {
			if err := w.pw.Flush(); err != nil {
				return fmt.Errorf("replay: cannot write spine: %w", err)
			}
			w.pending = 0
		}
	}
	return nil
}

func (w *spineWriter) writeRows(f *featurelog.File, sel []int32) error {
	l := w.l
	if cap(w.vals) < len(sel) {
		w.vals = make([]parquet.Value, len(sel))
	}
	vals := w.vals[:len(sel)]
	put := func(j int) error {
		if _, err := w.cw[j].WriteRowValues(vals); err != nil {
			return fmt.Errorf("replay: cannot write spine column %q: %w", l.fields[j].Name, err)
		}
		return nil
	}
	for k := range sel {
		vals[k] = parquet.Int64Value(w.rows+int64(k)).Level(0, 0, 0)
	}
	if err := put(0); err != nil {
		return err
	}
	for k, i := range sel {
		vals[k] = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(f.RequestID[i]), len(f.RequestID[i]))).Level(0, 0, 1)
	}
	if err := put(1); err != nil {
		return err
	}
	for k, i := range sel {
		vals[k] = parquet.Int64Value(f.RequestTS[i]).Level(0, 0, 2)
	}
	if err := put(2); err != nil {
		return err
	}
	for c, col := range f.Keys {
		fillValues(vals, sel, l.keyCol+c, col.Type, col.I64, col.F64, col.B, col.S, col.Valid.Get)
		if err := put(l.keyCol + c); err != nil {
			return err
		}
	}
	for c, col := range f.Context {
		fillValues(vals, sel, l.ctxCol+c, col.Type, col.I64, col.F64, col.B, col.S, col.Valid.Get)
		if err := put(l.ctxCol + c); err != nil {
			return err
		}
	}
	for c, fc := range f.Features {
		j := l.featCol + 2*c
		v := fc.Value
		fillValues(vals, sel, j, v.Type, v.I64, v.F64, v.B, v.S, v.Valid.Get)
		if err := put(j); err != nil {
			return err
		}
		for k, i := range sel {
			vals[k] = parquet.Int32Value(int32(fc.Status[i])).Level(0, 0, j+1)
		}
		if err := put(j + 1); err != nil {
			return err
		}
	}
	w.rows += int64(len(sel))
	w.pending += len(sel)
	return nil
}

// fillValues builds the optional column j's values of rows sel.
func fillValues(vals []parquet.Value, sel []int32, j int, t def.ValueType, i64 []int64, f64 []float64, b []bool, s []string, valid func(int) bool) {
	for k, i := range sel {
		if !valid(int(i)) {
			vals[k] = parquet.Value{}.Level(0, 0, j)
			continue
		}
		switch t {
		case def.Int64, def.Timestamp:
			vals[k] = parquet.Int64Value(i64[i]).Level(0, 1, j)
		case def.Double:
			vals[k] = parquet.DoubleValue(f64[i]).Level(0, 1, j)
		case def.Bool:
			vals[k] = parquet.BooleanValue(b[i]).Level(0, 1, j)
		case def.String:
			vals[k] = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s[i]), len(s[i]))).Level(0, 1, j)
		}
	}
}

// close writes the footer and syncs nothing: the spine is a temporary
// file, read back at once by backfill.
func (w *spineWriter) close() error {
	err := w.pw.Close()
	if err == nil {
		err = w.bw.Flush()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("replay: cannot write spine: %w", err)
	}
	return nil
}

// abort closes the file after a failure; the caller removes the directory.
func (w *spineWriter) abort() { w.f.Close() }

// orderedGroup is a Parquet group whose fields keep the order given
// (parquet.Group sorts them by name), as featurelog and backfill write
// theirs.
type orderedGroup struct {
	fields []parquet.Field
}

type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string                           { return f.name }
func (f namedField) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return "group" }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Fields() []parquet.Field     { return g.fields }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeOf(map[string]any{}) }
