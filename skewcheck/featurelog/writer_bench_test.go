package featurelog

import (
	"context"
	"testing"
)

// BenchmarkWriteRows measures the writer's CPU per logged row, apart
// from the request path: batches of rows (1 is what 1% logging of a
// 100-entity request gives) appended to a file, its row groups flushed
// and compressed, files published at MaxFileBytes, as the writer
// goroutine does.
//
//	go test ./skewcheck/featurelog -run '^$' -bench WriteRows -count 10 | tee new.txt; benchstat old.txt new.txt
func BenchmarkWriteRows(b *testing.B) {
	for _, rows := range []int{1, 100} {
		b.Run("rows="+itoa(rows), func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			// A writer of its own, driven synchronously; l's goroutine
			// has nothing to do.
			w := newWriter(l)
			sc := testSchema(b, 1, true)
			s := newSrc(rows)
			bt := Acquire(sc)
			for i := 0; i < rows; i++ {
				fill(s, i, int64(i))
				addRowBench(bt, s, i)
			}
			if bt.Err() != nil {
				b.Fatal(bt.Err())
			}
			b.ReportAllocs()
			b.ResetTimer()
			var f *logFile
			for n := 0; n < b.N; n++ {
				if f == nil {
					if f, err = w.create(sc, l.opts.Now()); err != nil {
						b.Fatal(err)
					}
				}
				if err := f.append(bt, w); err != nil {
					b.Fatal(err)
				}
				if f.size() >= l.opts.MaxFileBytes {
					if _, err := f.finish(); err != nil {
						b.Fatal(err)
					}
					f = nil
				}
			}
			if f != nil {
				if _, err := f.finish(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
