package serve

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/registry"
)

// predictFront is a front (no network) over the wide view with a model of
// the given architecture registered over all nf features.
func predictFront(t testing.TB, ne, nf int, hidden []int) *front {
	t.Helper()
	data := wideData(t, ne, nf)
	defs := filepath.Join(data, "defs.textproto")
	f, err := os.OpenFile(defs, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "feature_services { name: \"wide_all\" features: \"wide:*\" }\nmodels { name: \"wide_model\" feature_service: \"wide_all\" }\n")
	f.Close()
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, origins, err := registry.LoadFiles([]string{defs})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, nil)
	if err != nil {
		t.Fatal(err)
	}
	loadExample(t, st, st.Online(), d)
	cols := make([]string, nf)
	for i := range cols {
		cols[i] = fmt.Sprintf("wide__f%d", i+1)
	}
	b, err := randomModel(t, cols, hidden, 11).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RegisterModel(featurestore.ModelRegistration{Model: "wide_model", Artifact: b}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fs := newFeatureServer(st.Online(), st.Registry(), Limits{}, log, nil)
	pol := BatchPolicy{}
	pol.EnsureDefaults()
	ms := newModelServer(st, pol, log)
	if err := ms.loadAll(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ms.close)
	return &front{fs: fs, ms: ms}
}

// widePredictBody asks wide_model for ne random entities.
func widePredictBody(r *rand.Rand, entities, ne int) []byte {
	var b strings.Builder
	b.WriteString(`{"model":"wide_model","entities":{"entity_id":[`)
	for e := 0; e < ne; e++ {
		if e > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, r.IntN(entities))
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

func callPredict(f *front, ctx *fasthttp.RequestCtx, body []byte) {
	invoke(ctx, "/v1/predict", body, f.predict)
}

// BenchmarkPredict measures /v1/predict's work per request without the
// network: parse, fetch 50 features per entity from Pebble, build the
// tensor, run the MLP through the batcher, encode.
//
//	go test ./serve -run '^$' -bench Predict -benchmem -count 6 | benchstat -
func BenchmarkPredict(b *testing.B) {
	const entities = 10_000
	for _, arch := range []struct {
		name   string
		hidden []int
	}{{"logreg", nil}, {"mlp:64,32", []int{64, 32}}} {
		f := predictFront(b, entities, 50, arch.hidden)
		for _, ne := range []int{1, 100} {
			b.Run(fmt.Sprintf("arch=%s/shape=%dx50", arch.name, ne), func(b *testing.B) {
				r := rand.New(rand.NewPCG(3, 4))
				bodies := make([][]byte, 64)
				for i := range bodies {
					bodies[i] = widePredictBody(r, entities, ne)
				}
				var ctx fasthttp.RequestCtx
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					callPredict(f, &ctx, bodies[i%len(bodies)])
					if ctx.Response.StatusCode() != 200 {
						b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
					}
				}
				b.ReportMetric(float64(b.N*ne)/b.Elapsed().Seconds(), "predictions/s")
			})
		}
	}
}

// inferBody is an OIP request for wide_model: ne rows of nf inputs.
func inferBody(r *rand.Rand, ne, nf int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":"b","inputs":[{"name":"input","datatype":"FP32","shape":[%d,%d],"data":[`, ne, nf)
	for i := 0; i < ne*nf; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%.4f", r.Float64())
	}
	b.WriteString(`]}]}`)
	return []byte(b.String())
}

// BenchmarkInfer measures POST /v2/models/{name}/infer's work per request
// without the network: parse the tensor, run the model, encode.
//
//	go test ./serve -run '^$' -bench Infer -benchmem -count 6 | benchstat -
func BenchmarkInfer(b *testing.B) {
	f := predictFront(b, 100, 50, []int{64, 32})
	for _, ne := range []int{1, 100} {
		b.Run(fmt.Sprintf("shape=%dx50", ne), func(b *testing.B) {
			body := inferBody(rand.New(rand.NewPCG(1, 2)), ne, 50)
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				invoke(&ctx, "/v2/models/wide_model/infer", body, f.oip)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
}
