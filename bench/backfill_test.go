package bench

import (
	"context"
	"testing"
)

// BenchmarkBackfill times the backfill scenario end to end at 1% scale
// (50,000 feature rows, 10,000 spine rows). The full-scale numbers in the
// README come from `fstore bench backfill`, which runs the same code.
//
//	go test ./bench -run '^$' -bench Backfill -count 6 | benchstat -
func BenchmarkBackfill(b *testing.B) {
	dir := b.TempDir()
	data := BackfillData{Dir: dir, Scale: 0.01}
	if err := data.Generate(nil); err != nil {
		b.Fatal(err)
	}
	rows, _, spine := data.Counts()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (BackfillRun{Dir: dir, Workers: 2}).Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(rows+spine)/b.Elapsed().Seconds(), "rows/s")
}
