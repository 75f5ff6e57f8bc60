package compute

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/fstore/fstore/featurestore/def"
)

type fastRow struct {
	K     int64    `parquet:"k"`
	TS    int64    `parquet:"ts,timestamp(millisecond)"`
	TN    int64    `parquet:"tn,timestamp(nanosecond)"`
	X     float64  `parquet:"x"`
	OptX  *float64 `parquet:"opt_x,optional"`
	OptK  *int64   `parquet:"opt_k,optional"`
	Dict  int64    `parquet:"dict,dict"`
	Small int32    `parquet:"small"`
}

var fastFields = []def.Field{
	{Name: "k", Type: def.Int64}, {Name: "ts", Type: def.Timestamp}, {Name: "tn", Type: def.Timestamp},
	{Name: "x", Type: def.Double}, {Name: "opt_x", Type: def.Double}, {Name: "opt_k", Type: def.Int64},
	{Name: "dict", Type: def.Int64}, {Name: "small", Type: def.Int64},
}

// TestReadPlainMatchesGeneralPath reads files of every page version, codec
// and column shape (required, optional with and without nulls, dictionary,
// INT32, timestamps in other units) through readPlain and through
// parquet-go alone, and checks that the batches are the same.
func TestReadPlainMatchesGeneralPath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	dir := t.TempDir()
	accepted := map[string]bool{}
	codecs := []compress.Codec{&zstd.Codec{Level: zstd.SpeedFastest}, &snappy.Codec{}, &uncompressed.Codec{}}
	for it := 0; it < 24; it++ {
		n := 1 + r.IntN(30_000)
		nullRate := []float64{0, 0, 0.1}[it%3]
		rows := make([]fastRow, n)
		for i := range rows {
			x, k := r.NormFloat64(), r.Int64()
			rows[i] = fastRow{K: r.Int64(), TS: r.Int64N(1 << 40), TN: r.Int64() / 2, X: r.Float64(), Dict: r.Int64N(5), Small: r.Int32()}
			if r.Float64() >= nullRate {
				rows[i].OptX, rows[i].OptK = &x, &k
			}
			if r.IntN(100) == 0 {
				rows[i].X = math.NaN()
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("f%d.parquet", it))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := parquet.NewGenericWriter[fastRow](f,
			parquet.Compression(codecs[it%len(codecs)]),
			parquet.DataPageVersion(1+it/3%2),
			parquet.PageBufferSize(1<<(10+r.IntN(10))),
			parquet.MaxRowsPerRowGroup(int64(1+r.IntN(20_000))))
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		timeCols := map[string]bool{"ts": true, "tn": true}
		p, err := OpenParquet(path, fastFields, timeCols)
		if err != nil {
			t.Fatal(err)
		}
		for g := range p.File.RowGroups() {
			var fast, slow Batch
			fastRead = true
			if _, err := p.ReadRowGroup(g, &fast, nil); err != nil {
				t.Fatal(err)
			}
			fastRead = false
			if _, err := p.ReadRowGroup(g, &slow, nil); err != nil {
				t.Fatal(err)
			}
			fastRead = true
			for _, pc := range p.cols {
				var col Column
				col.ResetBitmap(pc.typ, slow.Len, false)
				if p.readPlain(g, pc, &col, slow.Len) {
					accepted[fmt.Sprintf("%s v%d", pc.name, 1+it/3%2)] = true
				}
			}
			for c := range fastFields {
				for i := 0; i < slow.Len; i++ {
					a, b := fast.Cols[c].Value(i), slow.Cols[c].Value(i)
					if !reflect.DeepEqual(a, b) && !(isNaN(a) && isNaN(b)) {
						t.Fatalf("iteration %d, row group %d, column %s, row %d: %v by readPlain, %v by parquet-go",
							it, g, fastFields[c].Name, i, a, b)
					}
				}
			}
		}
		p.Close()
	}
	// The path must be taken where it can be, and only there.
	for _, want := range []string{"k v1", "k v2", "ts v2", "tn v1", "x v1", "x v2", "opt_x v2", "opt_k v1"} {
		if !accepted[want] {
			t.Errorf("readPlain never read %s", want)
		}
	}
	for _, never := range []string{"dict v1", "dict v2", "small v1", "small v2"} {
		if accepted[never] {
			t.Errorf("readPlain read %s", never)
		}
	}
}

func isNaN(v any) bool {
	x, ok := v.(float64)
	return ok && math.IsNaN(x)
}

// BenchmarkReadRowGroup reads a row group of the backfill scenario's shape
// (128Ki rows: an INT64 key, a timestamp and 8 DOUBLE features, zstd, v2
// pages) through readPlain and through parquet-go alone.
//
//	go test ./compute -run '^$' -bench ReadRowGroup -count 8 | benchstat -col /path -
func BenchmarkReadRowGroup(b *testing.B) {
	type row struct {
		K  int64   `parquet:"entity_id"`
		TS int64   `parquet:"event_ts,timestamp(microsecond)"`
		F1 float64 `parquet:"f1"`
		F2 float64 `parquet:"f2"`
		F3 float64 `parquet:"f3"`
		F4 float64 `parquet:"f4"`
		F5 float64 `parquet:"f5"`
		F6 float64 `parquet:"f6"`
		F7 float64 `parquet:"f7"`
		F8 float64 `parquet:"f8"`
	}
	const n = 128 << 10
	r := rand.New(rand.NewPCG(2, 2))
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{K: int64(i % 100_000), TS: int64(i) * 1_000_000, F1: r.Float64(), F2: r.Float64(),
			F3: r.NormFloat64(), F4: r.NormFloat64(), F5: r.ExpFloat64(), F6: r.Float64() * 100,
			F7: float64(r.IntN(1000)), F8: r.Float64()}
	}
	path := filepath.Join(b.TempDir(), "rg.parquet")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := parquet.NewGenericWriter[row](f, parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}), parquet.MaxRowsPerRowGroup(n))
	if _, err := w.Write(rows); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	fields := []def.Field{{Name: "entity_id", Type: def.Int64}, {Name: "event_ts", Type: def.Timestamp}}
	for k := 1; k <= 8; k++ {
		fields = append(fields, def.Field{Name: fmt.Sprintf("f%d", k), Type: def.Double})
	}
	p, err := OpenParquet(path, fields, map[string]bool{"event_ts": true})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for _, path := range []string{"plain", "parquet-go"} {
		b.Run("path="+path, func(b *testing.B) {
			fastRead = path == "plain"
			defer func() { fastRead = true }()
			var batch Batch
			var vals []parquet.Value
			b.SetBytes(n * int64(len(fields)) * 8)
			b.ReportAllocs()
			for b.Loop() {
				if vals, err = p.ReadRowGroup(0, &batch, vals); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzReadPlain feeds readPlain column chunks with mutated bytes:
// whatever the pages hold, it must not panic, read outside the file or
// allocate what a corrupt length declares (its allocations stay within a
// few times the file's size). The fuzzed bytes replace the data pages of a
// valid file and leave its footer alone: the footer is parquet-go's to
// parse (OpenParquet), and a mutated one can make parquet-go allocate
// gigabytes before readPlain is reached. That what readPlain accepts reads
// as parquet-go reads it is TestReadPlainMatchesGeneralPath's part: the
// general path cannot be run here, because parquet-go panics on some
// corrupt pages and a recovered panic can leave its pooled decoders
// unusable for the next input.
//
//	go test ./compute -run '^$' -fuzz FuzzReadPlain -fuzztime 30s
func FuzzReadPlain(f *testing.F) {
	type row struct {
		K    int64    `parquet:"k"`
		X    float64  `parquet:"x"`
		OptX *float64 `parquet:"opt_x,optional"`
	}
	fields := []def.Field{{Name: "k", Type: def.Int64}, {Name: "x", Type: def.Double}, {Name: "opt_x", Type: def.Double}}
	var bases [][]byte
	for version := 1; version <= 2; version++ {
		for _, codec := range []compress.Codec{&uncompressed.Codec{}, &snappy.Codec{}, &zstd.Codec{Level: zstd.SpeedFastest}} {
			rows := make([]row, 40)
			for i := range rows {
				x := float64(i) / 3
				rows[i] = row{K: int64(i * 7), X: -x, OptX: &x}
			}
			var b bytesFile
			w := parquet.NewGenericWriter[row](&b, parquet.Compression(codec), parquet.DataPageVersion(version),
				parquet.PageBufferSize(128), parquet.MaxRowsPerRowGroup(25))
			if _, err := w.Write(rows); err != nil {
				f.Fatal(err)
			}
			if err := w.Close(); err != nil {
				f.Fatal(err)
			}
			// The data pages lie between the leading magic and the footer
			// (its length is the 4 bytes before the trailing magic).
			footer := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
			f.Add(uint8(len(bases)), []byte(b[4:len(b)-8-footer]))
			bases = append(bases, b)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, pages []byte) {
		base := bases[int(which)%len(bases)]
		footer := int(binary.LittleEndian.Uint32(base[len(base)-8:]))
		file := slices.Clone(base)
		copy(file[4:len(file)-8-footer], pages) // same length: the footer's offsets stay right
		path := filepath.Join(dir, "fuzz.parquet")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := OpenParquet(path, fields, nil)
		if err != nil {
			t.Fatalf("the footer is intact, yet: %v", err)
		}
		defer p.Close()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for g, rg := range p.File.RowGroups() {
			n := int(rg.NumRows())
			for _, pc := range p.cols {
				var col Column
				col.ResetBitmap(pc.typ, n, false)
				p.readPlain(g, pc, &col, n)
			}
		}
		runtime.ReadMemStats(&after)
		// Column memory above is allocated before the first read; what
		// readPlain allocates is its chunk buffer (pooled) and a scratch
		// page, each at most the file's size.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(8*len(file)+1<<20) {
			t.Fatalf("reading a %d-byte file allocated %d bytes", len(file), grew)
		}
	})
}

// bytesFile is an in-memory io.Writer for building seed files.
type bytesFile []byte

func (b *bytesFile) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

// FuzzOpenParquet feeds OpenParquet and ParquetSchema whole mutated files, footer included:
// it must fail with an error rather than panic, and must not allocate what
// a corrupt footer declares (checkFooter bounds every length by the
// footer's size before parquet-go decodes it).
//
//	go test ./compute -run '^$' -fuzz FuzzOpenParquet -fuzztime 30s
func FuzzOpenParquet(f *testing.F) {
	type row struct {
		K int64   `parquet:"k"`
		X float64 `parquet:"x"`
	}
	var b bytesFile
	w := parquet.NewGenericWriter[row](&b, parquet.MaxRowsPerRowGroup(7))
	if _, err := w.Write([]row{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}, {13, 14}, {15, 16}}); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(b))
	fields := []def.Field{{Name: "k", Type: def.Int64}, {Name: "x", Type: def.Double}}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p, err := OpenParquet(path, fields, nil)
		if err == nil {
			p.Close()
		}
		// The schema reader (apply, dataset checks) opens files the same
		// way.
		_, _ = ParquetSchema(path)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(256*len(data)+4<<20) {
			t.Fatalf("opening a %d-byte file allocated %d bytes", len(data), grew)
		}
	})
}

func TestTimestampMicros(t *testing.T) {
	for _, c := range []struct {
		x    int64
		unit int
		want int64
	}{
		{1_500, 1, 1_500}, {1_500, 0, 1_500},
		{1_500, 1000, 1_500_000}, {-2, 1000, -2000},
		{1_999, -1000, 1}, {-1, -1000, -1}, {-1_000, -1000, -1}, {-1_001, -1000, -2},
	} {
		if got := TimestampMicros(c.x, c.unit); got != c.want {
			t.Errorf("TimestampMicros(%d, %d) = %d, want %d", c.x, c.unit, got, c.want)
		}
	}
	xs := []int64{-1_001, 0, 2_999}
	convertUnit(xs, -1000)
	if !slices.Equal(xs, []int64{-2, 0, 2}) {
		t.Errorf("convertUnit = %v", xs)
	}
}
