package compute

import "testing"

func TestLatestAndFresh(t *testing.T) {
	var l Latest
	l.Reset([]int64{10, 20, 20, 30})
	for _, tc := range []struct {
		t    int64
		want int
	}{{5, -1}, {10, 0}, {19, 0}, {20, 2}, {29, 2}, {30, 3}, {99, 3}} {
		if got := l.At(tc.t); got != tc.want {
			t.Errorf("At(%d) = %d, want %d", tc.t, got, tc.want)
		}
	}
	if !Fresh(10, 20, 10) || Fresh(10, 21, 10) || !Fresh(-1_000_000, 1<<60, 0) {
		t.Error("Fresh: TTL must be inclusive, and 0 must mean none")
	}
}
