//go:build !race

package drift

import (
	"math"
	"testing"
	"time"
)

// Observing allocates nothing, for every value type and for both kinds of
// baseline, across window closes (the counters are reused).
func TestObserveAllocs(t *testing.T) {
	var c clock
	c.set(t0)
	m, s := newTestMonitor(t, &c)
	num, cat := s.Features()[0], s.Features()[1]
	b := []byte("c")
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		if i%100 == 0 {
			c.add(time.Minute) // close a window now and then
			m.advance(c.now())
		}
		num.ObserveFloat(float64(i) / 100)
		num.ObserveInt(int64(i))
		num.ObserveString("1.5")
		num.ObserveBytes(b)
		num.ObserveBool(true)
		num.ObserveFloat(math.NaN())
		num.ObserveStatus(StatusNotFound)
		cat.ObserveString("a")
		cat.ObserveBytes(b)
		cat.ObserveInt(int64(i))
		cat.ObserveFloat(2.5)
		cat.ObserveBool(false)
		cat.ObserveStatus(StatusOutsideMaxAge)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per round of observations, want 0", allocs)
	}
}
