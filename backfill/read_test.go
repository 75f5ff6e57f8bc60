package backfill

import (
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

type requiredRow struct {
	TS    int64    `parquet:"ts,timestamp(millisecond)"`
	NS    int64    `parquet:"ns,timestamp(nanosecond)"`
	X     float64  `parquet:"x"`
	Y     *float64 `parquet:"y,optional"`
	Small int32    `parquet:"small"`
}

// TestReadRowGroupPaths reads required columns (the typed fast path),
// nullable columns with and without nulls, INT32 widening and every
// timestamp unit, and checks every value.
func TestReadRowGroupPaths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.parquet")
	var rows []requiredRow
	for i := 0; i < 5000; i++ {
		r := requiredRow{TS: int64(i) - 2500, NS: int64(i)*1001 - 2_500_000, X: float64(i) / 4, Small: int32(-i)}
		if i >= 3000 && i%7 == 0 { // the first pages have no nulls, later ones some
			r.Y = nil
		} else {
			y := float64(i)
			r.Y = &y
		}
		rows = append(rows, r)
	}
	if err := parquet.WriteFile(path, rows, parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(2048)); err != nil {
		t.Fatal(err)
	}
	fields := []def.Field{{Name: "ts", Type: def.Timestamp}, {Name: "ns", Type: def.Timestamp}, {Name: "x", Type: def.Double}, {Name: "y", Type: def.Double}, {Name: "small", Type: def.Int64}}
	p, err := openProjected(path, fields, map[string]bool{"ts": true, "ns": true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b := &compute.Batch{}
	var vals []parquet.Value
	i := 0
	for g := range p.File.RowGroups() {
		if vals, err = readRowGroup(p, g, b, vals); err != nil {
			t.Fatal(err)
		}
		for row := 0; row < b.Len; row, i = row+1, i+1 {
			r := rows[i]
			floor := func(x int64) int64 {
				q := x / 1000
				if x%1000 < 0 {
					q--
				}
				return q
			}
			if b.Cols[0].I64[row] != r.TS*1000 || b.Cols[1].I64[row] != floor(r.NS) || b.Cols[2].F64[row] != r.X || b.Cols[4].I64[row] != int64(r.Small) {
				t.Fatalf("row %d: ts %d ns %d x %v small %d", i, b.Cols[0].I64[row], b.Cols[1].I64[row], b.Cols[2].F64[row], b.Cols[4].I64[row])
			}
			if (r.Y == nil) != b.Cols[3].Null(row) || (r.Y != nil && b.Cols[3].F64[row] != *r.Y) {
				t.Fatalf("row %d: y %v null %t", i, b.Cols[3].F64[row], b.Cols[3].Null(row))
			}
		}
	}
	if i != len(rows) {
		t.Fatalf("read %d of %d rows", i, len(rows))
	}
}
