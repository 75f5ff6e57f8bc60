//go:build !race

package lograte

import (
	"testing"
	"time"
)

func TestSuppressDoesNotAllocate(t *testing.T) {
	l, c := newTest(t, time.Second, 0)
	k := Key{Endpoint: "push", Status: 503, Kind: "unavailable"}
	l.Allow(k)
	if n := testing.AllocsPerRun(1000, func() { l.Allow(k) }); n != 0 {
		t.Fatalf("a suppressed Allow allocates %v times", n)
	}
	c.add(time.Second)
	if n := testing.AllocsPerRun(1000, func() { c.add(time.Second); l.Allow(k) }); n != 0 {
		t.Fatalf("an allowed Allow of a known key allocates %v times", n)
	}
}
