//go:build !race

package serve

import (
	"math/rand/v2"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestGetOnlineFeaturesAllocs proves that a request's steady-state
// allocations are a constant, whatever its entity and feature counts: the
// request state, parser, read buffers and response buffer are all reused.
func TestGetOnlineFeaturesAllocs(t *testing.T) {
	const entities = 2000
	fs := wideServer(t, entities, 50)
	r := rand.New(rand.NewPCG(5, 6))
	allocs := func(ne, nf int) float64 {
		bodies := make([][]byte, 8)
		for i := range bodies {
			bodies[i] = wideBody(r, entities, ne, nf)
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
		for range 20 { // warm the pools up to this shape
			run()
		}
		return testing.AllocsPerRun(200, run)
	}
	small := allocs(1, 1)
	for _, shape := range []struct{ ne, nf int }{{1, 50}, {100, 10}, {500, 50}} {
		if got := allocs(shape.ne, shape.nf); got > small {
			t.Errorf("%d entities × %d features: %.1f allocations per request, 1 × 1: %.1f; want no growth", shape.ne, shape.nf, got, small)
		}
	}
	// The constant is zero: the request's deadline context is reused and
	// arms no timer against Pebble (deadlineCtx), and nothing is per
	// entity or feature.
	if small > 0 {
		t.Errorf("%.1f allocations per request; want none", small)
	}
	t.Logf("%.1f allocations per request", small)
}

// TestPredictAllocs: /v1/predict allocates nothing in steady state,
// whatever the entity count: the request state, deadline context, tensor,
// outputs, batcher call and response buffer are all reused.
func TestPredictAllocs(t *testing.T) {
	const entities = 2000
	f := predictFront(t, entities, 50, []int{16})
	r := rand.New(rand.NewPCG(5, 6))
	allocs := func(ne int) float64 {
		bodies := make([][]byte, 8)
		for i := range bodies {
			bodies[i] = widePredictBody(r, entities, ne)
		}
		var ctx fasthttp.RequestCtx
		i := 0
		run := func() {
			callPredict(f, &ctx, bodies[i%len(bodies)])
			i++
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
		for range 20 {
			run()
		}
		return testing.AllocsPerRun(200, run)
	}
	small := allocs(1)
	for _, ne := range []int{100, 500} {
		if got := allocs(ne); got > small {
			t.Errorf("%d entities: %.1f allocations per request, 1 entity: %.1f; want no growth", ne, got, small)
		}
	}
	if small > 0 {
		t.Errorf("%.1f allocations per request; want none", small)
	}
	t.Logf("%.1f allocations per request", small)
}

// TestInferAllocs: an Open Inference Protocol request allocates nothing in
// steady state: path, tensor names and data are read in place, the tensor
// and outputs are reused.
func TestInferAllocs(t *testing.T) {
	f := predictFront(t, 100, 50, []int{16})
	r := rand.New(rand.NewPCG(7, 8))
	for _, ne := range []int{1, 100} {
		body := inferBody(r, ne, 50)
		var ctx fasthttp.RequestCtx
		run := func() {
			invoke(&ctx, "/v2/models/wide_model/versions/1/infer", body, f.oip)
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
		for range 20 {
			run()
		}
		if got := testing.AllocsPerRun(200, run); got > 0 {
			t.Errorf("%d rows: %.1f allocations per request; want none", ne, got)
		}
	}
}
