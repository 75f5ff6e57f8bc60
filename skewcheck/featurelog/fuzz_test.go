package featurelog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/fstore/fstore/compute"
)

var zeroTime time.Time

// FuzzDecodeMeta feeds DecodeMeta arbitrary JSON: it returns a Meta whose
// columns rebuild a schema, or an ErrFormat error, and never panics.
//
//	go test ./skewcheck/featurelog -run '^$' -fuzz FuzzDecodeMeta -fuzztime 30s
func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"format":"fstore.featurelog/v1","service":"s","registry_version":1,"columns":[{"name":"request_id","type":"STRING","role":"request_id","nullable":false},{"name":"request_ts","type":"TIMESTAMP","role":"request_ts","nullable":false}],"first_request_ts":"2026-01-01T00:00:00Z","last_request_ts":"2026-01-01T00:00:00Z","rows":0}`))
	f.Add([]byte(`{"format":"fstore.featurelog/v2"}`))
	f.Add([]byte(`{"format":"fstore.featurelog/v1","service":"s","columns":[{"name":"k","type":"FLOAT","role":"key"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMeta("f.parquet", data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		if _, err := schemaOf(m); err != nil {
			t.Fatalf("accepted metadata whose schema fails: %v", err)
		}
	})
}

// FuzzReadFile feeds ReadFile and List whole mutated log files: ReadFile
// returns an error matching ErrFormat or a file whose columns all have
// its row count (and then List accepts it too), never panics, and never allocates far beyond the file's
// size (compute's footer check and the rows-per-byte bound).
//
//	go test ./skewcheck/featurelog -run '^$' -fuzz FuzzReadFile -fuzztime 30s
func FuzzReadFile(f *testing.F) {
	dir := f.TempDir()
	l, err := Open(Options{Dir: dir, RowGroupRows: 8, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	submitRange(l, testSchema(f, 1, true), 0, 20, 6)
	if err := l.Close(context.Background()); err != nil {
		f.Fatal(err)
	}
	files, err := List(dir, zeroTime, zeroTime)
	if err != nil || len(files) != 1 {
		f.Fatal(files, err)
	}
	valid, err := os.ReadFile(files[0].Path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	work := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(work, "svc", "x.parquet")
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		lf, err := ReadFile(path)
		_, lerr := List(work, zeroTime, zeroTime)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(4096*len(data)+16<<20) {
			t.Fatalf("reading a %d-byte file allocated %d bytes", len(data), grew)
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			// List reads footers and metadata only: it may accept a file
			// whose pages are corrupt, never the other way round.
			return
		}
		if lerr != nil {
			t.Fatalf("ReadFile accepted a file List rejects: %v", lerr)
		}
		n := lf.Rows
		if len(lf.RequestID) != n || len(lf.RequestTS) != n {
			t.Fatalf("request columns of %d, %d rows in a %d-row file", len(lf.RequestID), len(lf.RequestTS), n)
		}
		cols := append(append([]*compute.Column{}, lf.Keys...), lf.Context...)
		for _, fc := range lf.Features {
			if len(fc.Status) != n {
				t.Fatalf("%d statuses in a %d-row file", len(fc.Status), n)
			}
			cols = append(cols, fc.Value, fc.EventTS)
		}
		for _, c := range cols {
			if c.Len != n {
				t.Fatalf("a column of %d rows in a %d-row file", c.Len, n)
			}
		}
	})
}
