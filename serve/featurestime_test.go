package serve

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// refTime is appendTime's reference: the time package's RFC3339Nano in
// UTC, quoted.
func refTime(b []byte, us int64) []byte {
	b = append(b, '"')
	b = time.UnixMicro(us).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func checkTime(t testing.TB, us int64) {
	t.Helper()
	var gb, wb [48]byte
	got, want := appendTime(gb[:0], us), refTime(wb[:0], us)
	if !bytes.Equal(got, want) {
		t.Fatalf("appendTime(%d) = %s, want %s", us, got, want)
	}
}

// TestAppendTimeDifferential compares appendTime with the time package on
// random times of every magnitude, on every day of several centuries,
// with every shape of fraction, and around the ends of its fast path.
func TestAppendTimeDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for range 500_000 {
		checkTime(t, r.Int64N(maxFastTime))
		checkTime(t, r.Int64N(2*maxFastTime)-maxFastTime/2)
		checkTime(t, int64(r.Uint64()))
	}
	// Every day from 1970 to 2500 (leap years, 2000, 2100, 2400), at a
	// random time of the day and at midnight.
	const day = 86_400_000_000
	for d := int64(0); d < 531*366; d++ {
		checkTime(t, d*day)
		checkTime(t, d*day+r.Int64N(day))
		checkTime(t, d*day-1)
	}
	// Fractions with each number of trailing zeros.
	base := time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC).UnixMicro()
	for _, f := range []int64{0, 1, 10, 100, 1000, 10_000, 100_000, 999_999, 120_000, 123_400, 5, 50_005, 100_001} {
		checkTime(t, base+f)
	}
	for _, us := range []int64{
		0, 1, -1, maxFastTime - 1, maxFastTime, maxFastTime + 1, math.MaxInt64, math.MinInt64,
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC).UnixMicro(),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC).UnixMicro(),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro(),
	} {
		checkTime(t, us)
	}
}

// FuzzAppendTime: appendTime matches the time package on any int64.
//
//	go test ./serve -run '^$' -fuzz FuzzAppendTime -fuzztime 60s
func FuzzAppendTime(f *testing.F) {
	for _, us := range []int64{0, 1, -1, maxFastTime - 1, 1_700_000_000_123_450} {
		f.Add(us)
	}
	f.Fuzz(func(t *testing.T, us int64) { checkTime(t, us) })
}

// BenchmarkAppendTime formats event times of this century.
//
//	go test ./serve -run '^$' -bench AppendTime -count 10 | benchstat -
func BenchmarkAppendTime(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	times := make([]int64, 1024)
	for i := range times {
		times[i] = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() + r.Int64N(100*365*86_400_000_000)
	}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = appendTime(buf[:0], times[i%len(times)])
		i++
	}
}

// TestFormatTimes: a view's event times, comma-separated, each as
// appendTime writes it or the epoch for 0, with runs of equal times (which
// formatTimes copies) anywhere, and a buffer grown or reused.
func TestFormatTimes(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	var req onlineRequest
	for range 2000 {
		n := 1 + r.IntN(40)
		ts := make([]int64, n+r.IntN(3)) // longer than r.n at times
		pool := []int64{0, 1, maxFastTime - 1, -5, r.Int64N(maxFastTime), r.Int64N(maxFastTime)}
		for i := range ts {
			if i > 0 && r.IntN(2) == 0 {
				ts[i] = ts[i-1]
			} else {
				ts[i] = pool[r.IntN(len(pool))]
			}
		}
		req.n = n
		req.formatTimes(ts)
		var want []byte
		for i, us := range ts[:n] {
			if i > 0 {
				want = append(want, ',')
			}
			if us == 0 {
				want = append(want, epochJSON...)
			} else {
				want = refTime(want, us)
			}
		}
		if !bytes.Equal(req.times, want) {
			t.Fatalf("formatTimes(%v) = %s, want %s", ts[:n], req.times, want)
		}
	}
}
