//go:build !race

package serve

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestQualityAllocs: checking gates allocates nothing, whatever the
// request's shape, with violations counted and a stale view.
func TestQualityAllocs(t *testing.T) {
	now := qualityT0.Add(3 * time.Hour) // every request is stale
	fs, rows := qualityServer(t, 300, &now)
	r := rand.New(rand.NewPCG(9, 9))
	for _, ne := range []int{1, 100, 300} {
		bodies := make([][]byte, 8)
		for i := range bodies {
			ids := make([]int, ne)
			for j := range ids {
				ids[j] = r.IntN(len(rows) + 10)
			}
			bodies[i] = qualityBody(gatedFeatures, ids)
		}
		var ctx fasthttp.RequestCtx
		i := 0
		run := func() {
			call(fs, &ctx, bodies[i%len(bodies)])
			i++
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
		for range 20 {
			run()
		}
		before := counterValues(t, fs.m.reg, "fstore_quality_freshness_violations_total")["view=gated"]
		if got := testing.AllocsPerRun(100, run); got > 0 {
			t.Errorf("%d entities: %.1f allocations per request with gates; want none", ne, got)
		}
		if after := counterValues(t, fs.m.reg, "fstore_quality_freshness_violations_total")["view=gated"]; after-before != 101 {
			t.Errorf("%d entities: %v stale requests counted, want 101", ne, after-before)
		}
	}
}
