package profile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

var allFields = []def.Field{
	{Name: "d", Type: def.Double}, {Name: "i", Type: def.Int64}, {Name: "ts", Type: def.Timestamp},
	{Name: "b", Type: def.Bool}, {Name: "s", Type: def.String}, {Name: "hs", Type: def.String}, {Name: "hi", Type: def.Int64},
}

// randomChunk returns n rows of allFields: normal doubles with NaN,
// specials and nulls; small and huge-cardinality strings and ints.
func randomChunk(r *rand.Rand, n int, nullRate float64) []*compute.Column {
	cols := make([]*compute.Column, len(allFields))
	for k, f := range allFields {
		cols[k] = &compute.Column{}
		cols[k].ResetBitmap(f.Type, n, false)
		if nullRate == 0 && k%2 == 0 {
			cols[k].Valid = nil
		}
	}
	specials := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 1e-310, -1e300}
	for row := 0; row < n; row++ {
		cols[0].F64[row] = r.NormFloat64() * 100
		if r.IntN(100) == 0 {
			cols[0].F64[row] = specials[r.IntN(len(specials))]
		}
		cols[1].I64[row] = int64(r.IntN(30))
		cols[2].I64[row] = 1_700_000_000_000_000 + r.Int64N(1e12)
		cols[3].B[row] = r.IntN(3) == 0
		cols[4].S[row] = fmt.Sprintf("v%d", int(r.ExpFloat64()*3))
		cols[5].S[row] = "k" + strconv.Itoa(int(math.Floor(1/(r.Float64()+1e-9)))) // heavy tail: few hot, many rare
		cols[6].I64[row] = r.Int64()
		for k := range cols {
			if cols[k].Valid != nil && r.Float64() < nullRate {
				cols[k].Valid.Clear(row)
			}
		}
	}
	return cols
}

// TestPrepareMergeMatchesAdd prepares chunks concurrently, merges them in
// order and checks the encoded profile is byte for byte that of Add on
// the chunks in turn.
func TestPrepareMergeMatchesAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var chunks [][]*compute.Column
	var ns []int
	for c := 0; c < 8; c++ {
		n := 1 + r.IntN(20_000)
		ns = append(ns, n)
		chunks = append(chunks, randomChunk(r, n, []float64{0, 0.1, 1}[c%3]))
	}
	seq := New(allFields)
	for c, cols := range chunks {
		seq.Add(cols, ns[c])
	}
	par := New(allFields)
	prepared := make([]Chunk, len(chunks))
	var wg sync.WaitGroup
	for c := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			par.Prepare(&prepared[c], chunks[c], ns[c])
		}()
	}
	wg.Wait()
	for c := range chunks {
		par.Merge(&prepared[c], chunks[c], ns[c])
	}
	a, err := seq.Encode("x.parquet", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := par.Encode("x.parquet", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("parallel profile differs from sequential:\n%s\n---\n%s", a, b)
	}
}

// TestSketchCutPoints checks the sketch's percentiles against exact ones
// on a skewed distribution with negatives: within RelativeAccuracy.
func TestSketchCutPoints(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n = 200_000
	p := New([]def.Field{{Name: "x", Type: def.Double}})
	var all []float64
	for lo := 0; lo < n; lo += 50_000 {
		c := &compute.Column{}
		c.Reset(def.Double, 50_000)
		for i := range c.F64 {
			c.F64[i] = math.Exp(r.NormFloat64()*2) - 3
		}
		all = append(all, c.F64...)
		p.Add([]*compute.Column{c}, 50_000)
	}
	b, err := p.Encode("d", n)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	cuts := pr.Feature("x").CutPoints(100)
	if len(cuts) != 99 {
		t.Fatalf("%d cut points", len(cuts))
	}
	for i, v := range cuts {
		q := float64(i+1) / 100
		// Any value between the ranks around q*(n-1) is right; allow the
		// sketch's relative error around them.
		lo, hi := all[int(math.Floor(q*(n-1)))], all[int(math.Ceil(q*(n-1)))]
		tol := RelativeAccuracy * math.Max(math.Abs(lo), math.Abs(hi))
		if v < lo-tol-1e-12 || v > hi+tol+1e-12 {
			t.Fatalf("p%d: sketch %v, exact [%v, %v]", i+1, v, lo, hi)
		}
	}
}

// TestTopAndDistinct checks exact frequencies below ExactDistinct, and
// beyond it that the hot values survive with counts within TopError and
// the HyperLogLog estimate within 3%.
func TestTopAndDistinct(t *testing.T) {
	fields := []def.Field{{Name: "s", Type: def.String}, {Name: "i", Type: def.Int64}}
	r := rand.New(rand.NewPCG(1, 1))
	const n, distinct = 400_000, 150_000
	p := New(fields)
	truth := map[string]int64{}
	for lo := 0; lo < n; lo += 65_536 {
		m := min(65_536, n-lo)
		s, i := &compute.Column{}, &compute.Column{}
		s.Reset(def.String, m)
		i.Reset(def.Int64, m)
		for row := 0; row < m; row++ {
			v := r.IntN(distinct)
			if r.IntN(4) == 0 {
				v = r.IntN(5) // five hot values, ~5% each
			}
			s.S[row], i.I64[row] = "s"+strconv.Itoa(v), int64(v)
			truth[strconv.Itoa(v)]++
		}
		p.Add([]*compute.Column{s, i}, m)
	}
	pr, err := p.Profile("d", n)
	if err != nil {
		t.Fatal(err)
	}
	realDistinct := float64(len(truth))
	for _, f := range pr.Features {
		if !f.DistinctApprox || f.TopError <= 0 || f.TopError > n/(HeavyHitters+1) {
			t.Fatalf("%s: distinct_approx %v, top_error %d", f.Name, f.DistinctApprox, f.TopError)
		}
		if d := float64(*f.Distinct); math.Abs(d-realDistinct)/realDistinct > 0.03 {
			t.Fatalf("%s: distinct %v, truth %v", f.Name, d, realDistinct)
		}
		for k := 0; k < 5; k++ {
			v := strings.TrimPrefix(f.Top[k].Value, "s")
			want := truth[v]
			if got := f.Top[k].Count; got > want || got < want-f.TopError {
				t.Fatalf("%s: top %d %q count %d, truth %d, error bound %d", f.Name, k, f.Top[k].Value, got, want, f.TopError)
			}
			if x, _ := strconv.Atoi(v); x >= 5 {
				t.Fatalf("%s: top %d is %q, not a hot value", f.Name, k, f.Top[k].Value)
			}
		}
	}

	// Few values: exact.
	q := New(fields)
	s, i := &compute.Column{}, &compute.Column{}
	s.ResetBitmap(def.String, 1000, false)
	i.ResetBitmap(def.Int64, 1000, false)
	for row := range 1000 {
		s.S[row], i.I64[row] = strconv.Itoa(row%7), int64(row%7)
	}
	s.Valid.Clear(3)
	q.Add([]*compute.Column{s, i}, 1000)
	pr, _ = q.Profile("d", 1000)
	f := pr.Feature("s")
	if *f.Distinct != 7 || f.DistinctApprox || f.TopError != 0 || f.Top[0] != (TopValue{"0", 143}) || f.Top[5] != (TopValue{"3", 142}) || f.Top[6] != (TopValue{"6", 142}) {
		t.Fatalf("exact top: %+v distinct %d", f.Top, *f.Distinct)
	}
	top, other, ok := f.Shares()
	if !ok || len(top) != 7 || other > 1e-12 || math.Abs(top[0].Share-143.0/999) > 1e-12 {
		t.Fatalf("shares %v other %v", top, other)
	}
	if g := pr.Feature("i"); *g.Distinct != 7 || g.Top[0].Value != "0" || g.Top[0].Count != 143 {
		t.Fatalf("ints: %+v", g)
	}
}

// TestReadV1 reads a profile written by backfill's v1 profiler
// (testdata/v1.profile.json, committed before the move) and checks its
// accessors.
func TestReadV1(t *testing.T) {
	p, err := Read(filepath.Join("testdata", "v1.profile.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != FormatV1 || p.Rows != 15000 || len(p.Features) != 6 {
		t.Fatalf("%+v", p)
	}
	d := p.Feature("v__d")
	cuts := d.CutPoints(100)
	if len(cuts) != 99 || cuts[0] != d.Quantiles["p01"] || cuts[49] != d.Quantiles["p50"] || cuts[98] != d.Quantiles["p99"] {
		t.Fatalf("v1 cut points %v, quantiles %v", cuts, d.Quantiles)
	}
	want := d.Quantiles["p05"] + (d.Quantiles["p25"]-d.Quantiles["p05"])*0.5 // p15
	if math.Abs(cuts[14]-want) > 1e-9 {
		t.Fatalf("p15 %v, want %v", cuts[14], want)
	}
	if nf := d.NullFraction(); math.Abs(nf-740.0/15000) > 1e-12 {
		t.Fatalf("null fraction %v", nf)
	}
	b := p.Feature("v__b")
	top, _, ok := b.Shares()
	if !ok || top[0].Value != "true" || math.Abs(top[0].Share-3781.0/11265) > 1e-12 {
		t.Fatalf("bool shares %v", top)
	}
	s := p.Feature("v__s")
	if top, other, ok := s.Shares(); !ok || len(top) != 5 || top[0].Value != "card" || other > 1e-12 {
		t.Fatalf("string shares %v %v", top, other)
	}
	if p.Feature("nope") != nil || p.Feature("v__empty").CutPoints(10) != nil {
		t.Fatal("absent feature or empty numbers")
	}
}

// TestRoundTrip encodes a profile with every kind of feature and
// expectations, decodes it, and encodes it again: the same bytes, and
// the sketches' cut points the same as the profiler's.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	p := New(allFields)
	p.Add(randomChunk(r, 30_000, 0.05), 30_000)
	p.SetExpectations([]ExpectationResult{{Feature: "d", Rule: "max", Limit: "1000", Observed: "1e300", Violations: 2, FirstRows: []int64{7, 9}}})
	b, err := p.Encode("/a/b/train.parquet", 30_000)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "train.parquet.profile.json")
	if err := WriteFile(path, b); err != nil {
		t.Fatal(err)
	}
	pr, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Format != Format || pr.Dataset != "train.parquet" || len(pr.Expectations) != 1 || pr.Expectations[0].FirstRows[1] != 9 {
		t.Fatalf("%+v", pr)
	}
	b2, err := pr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("re-encoded profile differs:\n%s\n---\n%s", b, b2)
	}
	orig, _ := p.Profile("x", 0)
	for k := range pr.Features {
		if got, want := pr.Features[k].CutPoints(20), orig.Features[k].CutPoints(20); !slices.Equal(got, want) {
			t.Fatalf("%s: cut points %v, want %v", pr.Features[k].Name, got, want)
		}
	}
	if pr.Feature("d").DDSketch() == nil || pr.Feature("s").DDSketch() != nil {
		t.Fatal("sketches")
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
}

// TestDecodeErrors checks that bad profiles are refused with an error
// naming the file and field.
func TestDecodeErrors(t *testing.T) {
	good := `{"format":"fstore.profile/v2","dataset":"t","rows":3,"features":[%s]%s}`
	cases := []struct{ features, extra, want string }{
		{`{"name":"x","type":"DOUBLE","count":-1,"nulls":0}`, ``, `features[0] "x".count: -1 is negative`},
		{`{"name":"x","type":"FLOAT","count":1,"nulls":0}`, ``, `features[0] "x".type: "FLOAT" is not a value type`},
		{`{"name":"","type":"DOUBLE","count":1,"nulls":0}`, ``, `features[0].name: missing`},
		{`{"name":"x","type":"DOUBLE","count":1,"nulls":0},{"name":"x","type":"DOUBLE","count":1,"nulls":0}`, ``, `features[1] "x".name: repeats features[0]`},
		{`{"name":"x","type":"DOUBLE","count":1,"nulls":0,"min":2,"max":1}`, ``, `"x".min: 2 is above max 1`},
		{`{"name":"x","type":"BOOL","count":1,"nulls":0,"true":2}`, ``, `"x".true: 2 is outside [0, count 1]`},
		{`{"name":"x","type":"INT64","count":3,"nulls":0,"top":[{"value":"a","count":1}]}`, ``, `"x".top[0].value: "a" is not a decimal INT64`},
		{`{"name":"x","type":"DOUBLE","count":3,"nulls":0,"quantiles":{"p42":1}}`, ``, `"x".quantiles: "p42" is not one of`},
		{`{"name":"x","type":"DOUBLE","count":3,"nulls":0,"sketch":{"relative_accuracy":0.01,"max_bins":2048,"ddsketch":"AAAA"}}`, ``, `"x".sketch: ddsketch: not a sketchpb.DDSketch`},
		{`{"name":"x","type":"DOUBLE","count":3,"nulls":0,"sketch":{"relative_accuracy":0.01,"max_bins":2048,"ddsketch":"` + hugeSketch(t) + `"}}`, ``, `"x".sketch: ddsketch: positive store spans 1000000001 bins`},
		{``, `,"expectations":[{"feature":"x","rule":"","limit":"1","observed":"2","violations":1}]`, `expectations[0].rule: missing`},
		{`{"name":"x","type":"DOUBLE","count":"many","nulls":0}`, ``, `features.count: not valid profile JSON`},
	}
	dir := t.TempDir()
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("p%d.json", i))
		os.WriteFile(path, []byte(fmt.Sprintf(good, c.features, c.extra)), 0o644)
		_, err := Read(path)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("case %d: got %v, want %q naming %s", i, err, c.want, path)
		}
	}
	if _, err := Decode([]byte(`{"format":"fstore.profile/v9"}`)); err == nil || !strings.Contains(err.Error(), `format: "fstore.profile/v9" is not a profile format`) {
		t.Errorf("format: %v", err)
	}
}
