package featurelog

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSubmit measures the request path: a batch of sampled rows
// built from serve-shaped columns and submitted (the writer runs
// concurrently; rows it cannot keep up with are dropped and do not slow
// Submit).
//
//	go test ./skewcheck/featurelog -run '^$' -bench Submit -count 10 | tee new.txt; benchstat old.txt new.txt
func BenchmarkSubmit(b *testing.B) {
	for _, rows := range []int{1, 10, 100} {
		b.Run("rows="+itoa(rows), func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			sc := testSchema(b, 1, true)
			s := newSrc(rows)
			for i := 0; i < rows; i++ {
				fill(s, i, int64(i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; n++ {
				bt := Acquire(sc)
				for i := 0; i < rows; i++ {
					addRowBench(bt, s, i)
				}
				l.Submit(bt)
			}
			b.ReportMetric(float64(b.N*rows)/time.Since(start).Seconds(), "rows/s")
		})
	}
}

// addRowBench is addRow without formatting a request id.
func addRowBench(b *Batch, s *src, i int) {
	r := b.AddRow("0123456789abcdef", baseTS+int64(i))
	b.SetKey(r, 0, &s.driver, i)
	b.SetKey(r, 1, &s.city, i)
	b.SetContext(r, 0, &s.surge, i)
	b.SetContext(r, 1, &s.vip, i)
	b.SetContext(r, 2, &s.at, i)
	b.SetFeature(r, 0, &s.conv, i, 0, baseTS)
	b.SetFeature(r, 1, &s.trips, i, 1, baseTS)
	b.SetFeature(r, 2, &s.seg, i, 0, 0)
	b.SetFeature(r, 3, &s.long, i, 0, 0)
	b.SetModel(r, "ep", "m", 1, 0.5)
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
