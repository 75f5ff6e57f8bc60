package drift

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// FuzzDecodeReport checks that DecodeReport never panics, and that what it
// accepts encodes and decodes back to the same JSON.
func FuzzDecodeReport(f *testing.F) {
	var c clock
	c.set(t0)
	m, err := NewMonitor(&Options{Window: time.Minute, Now: c.now, CheckInterval: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	num := NumericBaseline{Edges: []float64{-1, 0, 1}, Probs: []float64{0.2, 0.3, 0.3, 0.2}, Count: 1000}
	cat := CategoricalBaseline{Values: []string{"a", "</script>"}, Shares: []float64{0.5, 0.4}, Other: 0.1}
	s, err := m.Register(SubjectSpec{Kind: KindModelVersion, Name: "m/v1", Features: []FeatureSpec{
		{Name: "x", Type: Float64, Baseline: Baseline{Numeric: &num}},
		{Name: "y", Type: String, Baseline: Baseline{Categorical: &cat}},
	}})
	if err != nil {
		f.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 3000 {
		s.Features()[0].ObserveFloat(r.NormFloat64())
		s.Features()[1].ObserveString("a")
	}
	c.add(time.Minute)
	b, _ := json.Marshal(m.Snapshot())
	m.Close()
	f.Add(b)
	f.Add([]byte(`{"generated_at":"2026-01-01T00:00:00Z","window_seconds":300,"state":"ok","subjects":[]}`))
	f.Add([]byte(`{"subjects":[{"features":[{"window":{"histogram":{"edges":[1],"baseline":[0.5,0.5],"served":[1,2]}}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := DecodeReport(data)
		if err != nil {
			return
		}
		b1, err := json.Marshal(rep)
		if err != nil {
			t.Fatalf("cannot encode a decoded report: %v", err)
		}
		rep2, err := DecodeReport(b1)
		if err != nil {
			t.Fatalf("cannot decode an encoded report: %v\n%s", err, b1)
		}
		b2, _ := json.Marshal(rep2)
		if string(b1) != string(b2) {
			t.Fatalf("round trip:\n%s\n%s", b1, b2)
		}
	})
}
