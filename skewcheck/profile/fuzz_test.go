package profile

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/DataDog/sketches-go/ddsketch/pb/sketchpb"
)

// hugeSketch is a sketch whose two bins are a billion indexes apart: the
// library would allocate the whole span.
func hugeSketch(t testing.TB) string {
	b, err := proto.Marshal(&sketchpb.DDSketch{
		Mapping:        &sketchpb.IndexMapping{Gamma: 1.02, Interpolation: sketchpb.IndexMapping_NONE},
		PositiveValues: &sketchpb.Store{BinCounts: map[int32]float64{0: 1, 1_000_000_000: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// FuzzDecode checks that Decode never panics and that whatever it
// accepts encodes to a profile it accepts again, unchanged.
func FuzzDecode(f *testing.F) {
	v1, err := os.ReadFile(filepath.Join("testdata", "v1.profile.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	p := New(allFields)
	p.Add(randomChunk(rand.New(rand.NewPCG(1, 2)), 2000, 0.1), 2000)
	p.SetExpectations([]ExpectationResult{{Feature: "d", Rule: "not_null", Violations: 1, FirstRows: []int64{0}}})
	v2, err := p.Encode("t", 2000)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v2)
	f.Add([]byte(`{"format":"fstore.profile/v2","features":[{"name":"x","type":"DOUBLE","count":1,"nulls":0,"sketch":{"relative_accuracy":0.01,"max_bins":9,"ddsketch":"` + hugeSketch(f) + `"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		for i := range p.Features {
			p.Features[i].CutPoints(100)
			p.Features[i].Shares()
			p.Features[i].NullFraction()
		}
		b1, err := p.Encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		p2, err := Decode(b1)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, b1)
		}
		b2, err := p2.Encode()
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("not stable: %v\n%s\n---\n%s", err, b1, b2)
		}
	})
}
