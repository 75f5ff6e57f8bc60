//go:build !linux

package backfill

func peakRSS() int64 { return 0 }
