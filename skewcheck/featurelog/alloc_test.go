//go:build !race

package featurelog

import (
	"context"
	"testing"
)

// TestSubmitAllocs proves the request path allocates nothing per row in
// steady state: building and submitting a pooled batch of 1 or 50 rows.
// The queue is kept full (QueueRows 1, the writer stalled) so that the
// writer does not compete with the measurement; a dropped batch goes
// back to the pool as a written one does.
func TestSubmitAllocs(t *testing.T) {
	l := open(t, Options{Dir: t.TempDir(), QueueRows: 1})
	stall := make(chan struct{})
	l.hook = func() { <-stall }
	sc := testSchema(t, 1, true)
	s := newSrc(50)
	for i := 0; i < 50; i++ {
		fill(s, i, int64(i))
	}
	first := Acquire(sc)
	addRowBench(first, s, 0)
	l.Submit(first) // the writer takes it and stalls
	for _, rows := range []int{1, 50} {
		got := testing.AllocsPerRun(200, func() {
			b := Acquire(sc)
			for i := 0; i < rows; i++ {
				addRowBench(b, s, i)
			}
			l.Submit(b)
		})
		if got > 0 {
			t.Errorf("%d rows: %.1f allocations a batch, want 0", rows, got)
		}
	}
	close(stall)
	l.Close(context.Background())
}
