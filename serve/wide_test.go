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

	"github.com/parquet-go/parquet-go"
	"github.com/valyala/fasthttp"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/registry"
)

// wideData writes a view "wide" of nf DOUBLE features over ne INT64
// entities (one row each) and returns the directory.
func wideData(t testing.TB, ne, nf int) string {
	t.Helper()
	dir := t.TempDir()
	group := parquet.Group{"entity_id": parquet.Int(64), "event_ts": parquet.Timestamp(parquet.Microsecond)}
	var defs strings.Builder
	defs.WriteString(`entities { name: "entity" join_keys { name: "entity_id" type: INT64 } }
sources { name: "src" parquet { path: "wide.parquet" } timestamp_column: "event_ts" }
feature_views { name: "wide" entities: "entity" source: "src" online: true
`)
	for f := 1; f <= nf; f++ {
		group[fmt.Sprintf("f%d", f)] = parquet.Leaf(parquet.DoubleType)
		fmt.Fprintf(&defs, "  features { name: \"f%d\" type: DOUBLE }\n", f)
	}
	defs.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dir, "defs.textproto"), []byte(defs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	schema := parquet.NewSchema("row", group)
	f, err := os.Create(filepath.Join(dir, "wide.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[map[string]any](f, schema)
	r := rand.New(rand.NewPCG(1, 2))
	ts := rides.DefaultEnd.Add(-1).UnixMicro()
	rows := make([]map[string]any, 0, ne)
	for e := 0; e < ne; e++ {
		row := map[string]any{"entity_id": int64(e), "event_ts": ts}
		for f := 1; f <= nf; f++ {
			row[fmt.Sprintf("f%d", f)] = r.Float64()
		}
		rows = append(rows, row)
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return dir
}

// wideServer returns a feature server (no network) over wideData
// materialised into the data directory's Pebble store.
func wideServer(t testing.TB, ne, nf int) *featureServer {
	t.Helper()
	data := wideData(t, ne, nf)
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, origins, err := registry.LoadFiles([]string{filepath.Join(data, "defs.textproto")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, nil)
	if err != nil {
		t.Fatal(err)
	}
	loadExample(t, st, st.Online(), d)
	fs := newFeatureServer(st.Online(), st.Registry(), Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if len(fs.cat.Load().views) != 1 {
		t.Fatalf("views: %v", fs.cat.Load().broken)
	}
	return fs
}

// wideBody is a request for the first nf features of ne random entities.
func wideBody(r *rand.Rand, entities, ne, nf int) []byte {
	var b strings.Builder
	b.WriteString(`{"features":[`)
	for f := 1; f <= nf; f++ {
		if f > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"wide:f%d"`, f)
	}
	b.WriteString(`],"entities":{"entity_id":[`)
	for e := 0; e < ne; e++ {
		if e > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, r.IntN(entities))
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// call runs one request through the HTTP handler, without a network.
func call(fs *featureServer, ctx *fasthttp.RequestCtx, body []byte) {
	invoke(ctx, "/get-online-features", body, fs.getOnlineFeatures)
}

// invoke runs one POST of body to path through handler, without a network.
func invoke(ctx *fasthttp.RequestCtx, path string, body []byte, handler fasthttp.RequestHandler) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI(path)
	ctx.Request.SetBodyRaw(body)
	handler(ctx)
}

// BenchmarkGetOnlineFeatures measures the server's work per request (parse,
// read from Pebble, encode) without the network: CPU per request.
//
//	go test ./serve -run '^$' -bench GetOnlineFeatures -benchmem -count 6 | benchstat -
func BenchmarkGetOnlineFeatures(b *testing.B) {
	const entities = 10_000
	fs := wideServer(b, entities, 50)
	for _, shape := range []struct{ ne, nf int }{{1, 10}, {100, 10}, {100, 50}} {
		b.Run(fmt.Sprintf("shape=%dx%d", shape.ne, shape.nf), func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			bodies := make([][]byte, 64)
			for i := range bodies {
				bodies[i] = wideBody(r, entities, shape.ne, shape.nf)
			}
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				call(fs, &ctx, bodies[i%len(bodies)])
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			b.ReportMetric(float64(b.N*shape.ne)/b.Elapsed().Seconds(), "entities/s")
		})
	}
}
