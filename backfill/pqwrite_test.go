package backfill

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// TestChunkWriterRoundTrip writes feature columns of every type, with
// nulls, beside a copied spine through the chunk writer, over row groups
// and pages of several sizes (strings long enough to end pages by bytes),
// and reads the file back with parquet-go: every value, every null and
// the schema must come back as the row-by-row writer would write them.
func TestChunkWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(9, 9))
	type spine struct {
		ID    int64   `parquet:"id"`
		Label *string `parquet:"label,optional"`
	}
	const n = 150_000
	var rows []spine
	for i := 0; i < n; i++ {
		s := spine{ID: int64(i)}
		if i%3 == 0 {
			s.Label = ptr(strings.Repeat("l", i%7))
		}
		rows = append(rows, s)
	}
	spinePath := filepath.Join(dir, "spine.parquet")
	if err := parquet.WriteFile(spinePath, rows, parquet.MaxRowsPerRowGroup(100_000)); err != nil {
		t.Fatal(err)
	}
	features := []def.Field{{Name: "i", Type: def.Int64}, {Name: "d", Type: def.Double}, {Name: "b", Type: def.Bool}, {Name: "s", Type: def.String}, {Name: "t", Type: def.Timestamp}}
	cols := make([]*compute.Column, len(features))
	for k, f := range features {
		c := &compute.Column{}
		c.ResetBitmap(f.Type, n, false)
		for i := 0; i < n; i++ {
			if r.IntN(5) == 0 {
				c.Valid.Clear(i)
				continue
			}
			switch f.Type {
			case def.Int64, def.Timestamp:
				c.I64[i] = r.Int64() - 1<<62
			case def.Double:
				c.F64[i] = r.NormFloat64()
			case def.Bool:
				c.B[i] = r.IntN(2) == 0
			case def.String:
				c.S[i] = strings.Repeat("x", r.IntN(200))
			}
		}
		cols[k] = c
	}
	f, err := os.Open(spinePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if !rawChunkable([]*parquet.File{pf}, 128<<10) || rawChunkable([]*parquet.File{pf}, 50_000) {
		t.Fatal("rawChunkable does not follow the row group size")
	}
	out := filepath.Join(dir, "out.parquet")
	w, err := newChunkWriter(out, pf, &spineCols{leaves: []int{0, 1}, leafMap: []int{0, 1}, fields: []int{0, 1}, elems: []int{1, 1}}, features, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	var sc encodeScratch
	base := 0
	for gi, rg := range pf.RowGroups() {
		m := int(rg.NumRows())
		var enc []encodedColumn
		for _, c := range cols {
			part := &compute.Column{}
			idx := make([]int32, m)
			for i := range idx {
				idx[i] = int32(base + i)
			}
			part.Gather(c, idx)
			e, err := w.encodeColumn(part, m, nil, &sc)
			if err != nil {
				t.Fatal(err)
			}
			enc = append(enc, e)
		}
		if err := w.writeRowGroup(pf, gi, enc); err != nil {
			t.Fatal(err)
		}
		base += m
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	names, got := readTable(t, out)
	if want := "id,label,i,d,b,s,t"; strings.Join(names, ",") != want {
		t.Fatalf("columns %v, want %s", names, want)
	}
	for i, row := range got {
		want := []any{int64(i), nil}
		if rows[i].Label != nil {
			want[1] = *rows[i].Label
		}
		for _, c := range cols {
			want = append(want, c.Value(i))
		}
		if ts, ok := want[6].(compute.Timestamp); ok {
			want[6] = int64(ts)
		}
		if !reflect.DeepEqual(row, want) {
			t.Fatalf("row %d: %v, want %v", i, row, want)
		}
	}
	if len(got) != n {
		t.Fatalf("%d rows, want %d", len(got), n)
	}
	// The schema is the row-by-row writer's.
	of, _ := os.Open(out)
	defer of.Close()
	ost, _ := of.Stat()
	opf, err := parquet.OpenFile(of, ost.Size())
	if err != nil {
		t.Fatal(err)
	}
	for k, fd := range opf.Schema().Fields()[2:] {
		if !parquet.EqualNodes(fd, featureNode(features[k].Type)) {
			t.Fatalf("column %s is %v, want %v", fd.Name(), fd, featureNode(features[k].Type))
		}
	}
	if v, ok := opf.Lookup("k"); !ok || v != "v" {
		t.Fatalf("key-value metadata k = %q", v)
	}
}
