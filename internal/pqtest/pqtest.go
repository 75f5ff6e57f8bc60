// Package pqtest holds Parquet helpers for tests.
package pqtest

import (
	"os"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// ReadTable reads a flat Parquet file: column names in file order and
// rows of Go values (nil for null; int64, float64, bool, string).
func ReadTable(t testing.TB, path string) ([]string, [][]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fd := range pf.Schema().Fields() {
		names = append(names, fd.Name())
	}
	var out [][]any
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		buf := make([]parquet.Row, 256)
		for {
			n, err := rr.ReadRows(buf)
			for _, row := range buf[:n] {
				vals := make([]any, len(names))
				for _, v := range row {
					c := v.Column()
					if v.IsNull() {
						continue
					}
					switch v.Kind() {
					case parquet.Int64:
						vals[c] = v.Int64()
					case parquet.Int32:
						vals[c] = int64(v.Int32())
					case parquet.Double:
						vals[c] = v.Double()
					case parquet.Boolean:
						vals[c] = v.Boolean()
					case parquet.ByteArray:
						vals[c] = string(v.ByteArray())
					}
				}
				out = append(out, vals)
			}
			if err != nil {
				break
			}
		}
		rr.Close()
	}
	return names, out
}
