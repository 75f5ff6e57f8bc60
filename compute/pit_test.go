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

func TestCompareEvents(t *testing.T) {
	for _, tc := range []struct {
		a, b [2]int64
		want int
	}{
		{[2]int64{1, 9}, [2]int64{2, 0}, -1},           // event time first
		{[2]int64{2, 1}, [2]int64{2, 0}, 1},            // then created time
		{[2]int64{2, NullCreated}, [2]int64{2, 0}, -1}, // a missing created time loses
		{[2]int64{2, 5}, [2]int64{2, 5}, 0},            // a tie: arrival order decides
	} {
		if got := CompareEvents(tc.a[0], tc.a[1], tc.b[0], tc.b[1]); got != tc.want {
			t.Errorf("CompareEvents(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareEvents(tc.b[0], tc.b[1], tc.a[0], tc.a[1]); got != -tc.want {
			t.Errorf("CompareEvents not antisymmetric for %v, %v", tc.a, tc.b)
		}
	}
}
