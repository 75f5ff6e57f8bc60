package drift

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Compare runs with
//
//	go test ./skewcheck/drift -run '^$' -bench Observe -count 10 > new.txt
//	benchstat old.txt new.txt
func BenchmarkObserve(b *testing.B) {
	num, cat := testBaselines(&testing.T{})
	for _, stripes := range []int{1, 0} {
		m, err := NewMonitor(&Options{Window: time.Hour, Stripes: stripes})
		if err != nil {
			b.Fatal(err)
		}
		s, err := m.Register(SubjectSpec{Kind: KindFeatureService, Name: "fs", Features: []FeatureSpec{
			{Name: "num", Type: Float64, Baseline: num}, {Name: "cat", Type: String, Baseline: cat},
		}})
		if err != nil {
			b.Fatal(err)
		}
		f, c := s.Features()[0], s.Features()[1]
		xs := make([]float64, 1024)
		r := rand.New(rand.NewPCG(1, 1))
		for i := range xs {
			xs[i] = r.NormFloat64()
		}
		cats := [][]byte{[]byte("a"), []byte("b"), []byte("e"), []byte("zz")}
		name := fmt.Sprintf("stripes=%d", m.opts.Stripes)
		b.Run("kind=numeric/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				f.ObserveFloat(xs[i&1023])
			}
		})
		b.Run("kind=categorical/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				c.ObserveBytes(cats[i&3])
			}
		})
		b.Run("kind=numeric/parallel/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					f.ObserveFloat(xs[i&1023])
					i++
				}
			})
		})
		b.Run("kind=categorical/parallel/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					c.ObserveBytes(cats[i&3])
					i++
				}
			})
		})
		m.Close()
	}
}

// BenchmarkSnapshot is the cost of GET /v1/skew for one subject of 50
// numeric features of 100 bins.
func BenchmarkSnapshot(b *testing.B) {
	num, _ := testBaselines(&testing.T{})
	m, err := NewMonitor(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	spec := SubjectSpec{Kind: KindFeatureService, Name: "fs"}
	for i := range 50 {
		spec.Features = append(spec.Features, FeatureSpec{Name: fmt.Sprintf("f%d", i), Type: Float64, Baseline: num})
	}
	if _, err := m.Register(spec); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Snapshot()
	}
}
