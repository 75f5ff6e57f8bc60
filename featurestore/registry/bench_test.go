package registry

import (
	"strconv"
	"testing"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore/def"
)

// Benchmarks of the registry's paths: what `fstore apply` costs, and what a
// server pays to pick up a new version (At) and to read the latest (Latest).
//
//	go test ./featurestore/registry -run '^$' -bench . -count 10 > new.txt
//	benchstat old.txt new.txt

func BenchmarkParseText(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(rides.Definitions)))
	for b.Loop() {
		if _, err := ParseText("rides", rides.Definitions); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	p, err := ParseText("rides", rides.Definitions)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(p, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply applies a new version each iteration (one changed view), on
// an in-memory filesystem so that fsync latency does not dominate.
func BenchmarkApply(b *testing.B) {
	r := newTestRegistry(b)
	d := exampleDefs(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		d.FeatureViews[0].Description = strconv.Itoa(i)
		if res, err := r.Apply(d, ApplyOptions{}); err != nil || !res.Applied {
			b.Fatal(err)
		}
	}
}

// BenchmarkAt loads an older version from storage: the cost of a snapshot
// that is not the cached latest.
func BenchmarkAt(b *testing.B) {
	r := newTestRegistry(b)
	d := exampleDefs(b)
	for i := 0; i < 2; i++ {
		d.FeatureViews[0].Description = strconv.Itoa(i)
		if _, err := r.Apply(d, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.At(1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLatestServiceFeatures is what a request that names a feature
// service costs before serving precomputes it: the latest snapshot and the
// expansion of its references.
func BenchmarkLatestServiceFeatures(b *testing.B) {
	r := newTestRegistry(b)
	if _, err := r.Apply(exampleDefs(b), ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var refs []def.FeatureRef
	for b.Loop() {
		var err error
		refs, err = r.Latest().Index.ServiceFeatures("trip_completion")
		if err != nil {
			b.Fatal(err)
		}
	}
	if len(refs) != 16 {
		b.Fatalf("%d refs", len(refs))
	}
}
