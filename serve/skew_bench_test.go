package serve

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/skewcheck/profile"
)

// BenchmarkSkewOverhead measures what monitoring (past the window's first
// 20,000 rows, as in steady traffic) and logging at 1% cost a 100×10
// feature-service request, against the same request with both off; the
// two run interleaved with -count:
//
//	go test ./serve -run '^$' -bench SkewOverhead -benchmem -count 10 | tee /tmp/skew.txt
//	benchstat -col /skew /tmp/skew.txt
func BenchmarkSkewOverhead(b *testing.B) {
	const entities, nf = 10_000, 10
	data := wideData(b, entities, 50)
	// The baseline: the same distribution the data has (uniform [0, 1)).
	var fields []def.Field
	for f := 1; f <= nf; f++ {
		fields = append(fields, def.Field{Name: fmt.Sprintf("wide__f%d", f), Type: def.Double})
	}
	prof := profile.New(fields)
	r := rand.New(rand.NewPCG(5, 6))
	cols := make([]*compute.Column, nf)
	for k := range cols {
		cols[k] = &compute.Column{}
		cols[k].Reset(def.Double, 10_000)
		for i := range cols[k].F64 {
			cols[k].F64[i] = r.Float64()
		}
	}
	prof.Add(cols, 10_000)
	pb, err := prof.Encode("baseline", 10_000)
	if err != nil {
		b.Fatal(err)
	}
	basePath := filepath.Join(b.TempDir(), "baseline.profile.json")
	if err := os.WriteFile(basePath, pb, 0o644); err != nil {
		b.Fatal(err)
	}
	defs, err := os.ReadFile(filepath.Join(data, "defs.textproto"))
	if err != nil {
		b.Fatal(err)
	}
	defs = fmt.Appendf(defs, `feature_services { name: "svc" features: "wide:f1" features: "wide:f2" features: "wide:f3" features: "wide:f4" features: "wide:f5"
  features: "wide:f6" features: "wide:f7" features: "wide:f8" features: "wide:f9" features: "wide:f10"
  logging { sample_rate: 0.01 } monitoring { enabled: true baseline: %q } }
`, basePath)
	if err := os.WriteFile(filepath.Join(data, "defs.textproto"), defs, 0o644); err != nil {
		b.Fatal(err)
	}
	st, err := featurestore.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	p, origins, err := registry.LoadFiles([]string{filepath.Join(data, "defs.textproto")})
	if err != nil {
		b.Fatal(err)
	}
	d, err := registry.Compile(p, origins, nil)
	if err != nil {
		b.Fatal(err)
	}
	loadExample(b, st, st.Online(), d)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	off := newFeatureServer(st.Online(), st.Registry(), Limits{}, log, nil)
	on := newFeatureServer(st.Online(), st.Registry(), Limits{}, log, nil)
	sk := newSkewer(SkewConfig{LogDir: b.TempDir()}, st, log)
	on.enableSkew(sk, st.Registry().Latest())
	b.Cleanup(func() { sk.close(b.Context()) })
	if pl := on.cat.Load().skew["svc"]; pl == nil || !pl.monitored || pl.logger == nil {
		b.Fatalf("skew plan not built: %+v", pl)
	}
	bodies := make([][]byte, 64)
	for i := range bodies {
		var ids []byte
		for e := 0; e < 100; e++ {
			if e > 0 {
				ids = append(ids, ',')
			}
			ids = fmt.Append(ids, r.IntN(entities))
		}
		bodies[i] = fmt.Appendf(nil, `{"feature_service":"svc","entities":{"entity_id":[%s]}}`, ids)
	}
	// Past the monitors' first 20,000 rows of the window, as a server in
	// steady traffic is.
	var warm fasthttp.RequestCtx
	for i := 0; i < 300; i++ {
		call(on, &warm, bodies[i%len(bodies)])
	}
	for _, c := range []struct {
		name string
		fs   *featureServer
	}{{"off", off}, {"on", on}} {
		b.Run("skew="+c.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				call(c.fs, &ctx, bodies[i%len(bodies)])
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
}
