package featurelog

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestOneFilePerSchema interleaves a service's own rows and a model's rows
// on it, batch by batch, as the server logs /get-online-features and
// /v1/predict: each schema fills one file of its own instead of a file per
// switch. Beyond MaxOpenFiles the least recently written file is
// published first; names stay unique and in time order.
func TestOneFilePerSchema(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Date(2026, 12, 8, 0, 15, 0, 0, time.UTC)}
	l := open(t, Options{Dir: dir, MaxFileAge: time.Hour, MaxOpenFiles: 2, Now: clock.Now})
	svc, model := testSchema(t, 1, false), testSchema(t, 1, true)
	g := int64(0)
	for range 20 {
		submitRange(l, svc, g, g+5, 5)
		submitRange(l, model, g+5, g+8, 3)
		g += 8
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, seen := readAll(t, dir)
	if len(files) != 2 || len(seen) != 160 {
		t.Fatalf("%d files with %d rows; want one file per schema, 160 rows", len(files), len(seen))
	}
	if files[0].Meta.Rows != 100 || files[1].Meta.Rows != 60 || !hasModel(files[1].Meta) || hasModel(files[0].Meta) {
		t.Fatalf("files %+v, %+v; want the service's 100 rows, then the model's 60", files[0].Meta, files[1].Meta)
	}

	// Three schemas, two open files: A, B, C publishes A; B, then A again
	// publishes C (B was written after it).
	v2 := testSchema(t, 2, false)
	step := func(sc *Schema, published int64) {
		t.Helper()
		clock.Add(time.Second)
		submitRange(l, sc, g, g+4, 4)
		g += 4
		waitWritten(l)
		if st := l.Stats(); st.FilesPublished != published {
			t.Fatalf("after rows %d: %d files published, want %d", g, st.FilesPublished, published)
		}
	}
	step(svc, 2)
	step(model, 2)
	step(v2, 3)
	step(model, 3)
	step(svc, 4)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, seen = readAll(t, dir)
	if len(files) != 6 || len(seen) != 180 {
		t.Fatalf("%d files, %d rows; want 6 files, 180 rows", len(files), len(seen))
	}
	var names []string
	for i, f := range files {
		names = append(names, f.Path)
		if i > 0 && f.Meta.FirstRequestTS.Before(files[i-1].Meta.FirstRequestTS) {
			t.Errorf("%s starts before %s: name order is not time order", f.Path, files[i-1].Path)
		}
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Fatalf("names not unique and sorted: %v", names)
	}
	// The last four files, in time order: svc (rows 160-163), model
	// (164-167, 172-175), v2 (168-171), svc again (176-179).
	want := []struct {
		rows    int64
		model   bool
		version uint64
	}{{4, false, 1}, {8, true, 1}, {4, false, 2}, {4, false, 1}}
	for i, w := range want {
		m := files[2+i].Meta
		if m.Rows != w.rows || hasModel(m) != w.model || m.RegistryVersion != w.version {
			t.Errorf("file %d: %d rows, model %v, version %d; want %+v", 2+i, m.Rows, hasModel(m), m.RegistryVersion, w)
		}
	}

	if err := (&Options{Dir: dir, MaxOpenFiles: -1}).Validate(); err == nil {
		t.Error("negative MaxOpenFiles accepted")
	}
}

func hasModel(m Meta) bool {
	return slices.ContainsFunc(m.Columns, func(c ColumnInfo) bool { return c.Role == RoleModel })
}
