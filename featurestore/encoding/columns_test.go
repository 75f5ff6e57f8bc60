package encoding

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// decodeBoth decodes b with Decode and with DecodeColumns (into row i of
// fresh columns, selecting want) and fails unless they agree: the same
// error or none, the same header and wanted tiles, and every wanted
// feature's value and validity in its column as Decode's Scalar.
func decodeBoth(t testing.TB, l *Layout, b []byte, want []bool) {
	t.Helper()
	var ref, got Value
	refErr := l.Decode(b, &ref)
	const n, i = 3, 1
	cols := make([]compute.Column, len(l.Features))
	for f, ty := range l.Features {
		cols[f].ResetBitmap(ty, n, true)
	}
	var sel Selection
	l.Select(want, &sel)
	err := l.DecodeColumns(b, &got, &sel, cols, i)
	if (err == nil) != (refErr == nil) || err != nil && err.Error() != refErr.Error() {
		t.Fatalf("%x: DecodeColumns error %v, Decode %v", b, err, refErr)
	}
	if err != nil {
		return
	}
	if got.HasRow != ref.HasRow || got.EventTS != ref.EventTS || got.Created != ref.Created || got.Through != ref.Through {
		t.Fatalf("%x: header %+v, want %+v", b, got, ref)
	}
	if len(got.Features) != 0 {
		t.Fatalf("DecodeColumns filled v.Features")
	}
	for a := range l.Aggs {
		wanted := want == nil || want[len(l.Features)+a]
		switch {
		case wanted && fmt.Sprint(got.Tiles[a]) != fmt.Sprint(ref.Tiles[a]): // NaN-proof
			t.Fatalf("%x: tiles of aggregation %d: %v, want %v", b, a, got.Tiles[a], ref.Tiles[a])
		case !wanted && len(got.Tiles[a]) != 0:
			t.Fatalf("%x: tiles of unwanted aggregation %d kept", b, a)
		}
	}
	for f := range l.Features {
		c := &cols[f]
		if want != nil && !want[f] || !ref.HasRow {
			if c.Valid.Get(i) {
				t.Fatalf("%x: feature %d not wanted or no row, but its column was written", b, f)
			}
			continue
		}
		s := ref.Features[f]
		if c.Valid.Get(i) == s.Null {
			t.Fatalf("%x: feature %d: valid %v, null %v", b, f, c.Valid.Get(i), s.Null)
		}
		if s.Null {
			continue
		}
		if got, want := c.Value(i), scalarValue(l, f, s); !reflect.DeepEqual(got, want) && !sameFloatBits(got, want) {
			t.Fatalf("%x: feature %d: %v, want %v", b, f, c.Value(i), scalarValue(l, f, s))
		}
	}
}

// sameFloatBits reports whether a and b are float64s with the same bits
// (NaN included).
func sameFloatBits(a, b any) bool {
	x, ok1 := a.(float64)
	y, ok2 := b.(float64)
	return ok1 && ok2 && math.Float64bits(x) == math.Float64bits(y)
}

// scalarValue is s as compute.Column.Value reports a value of feature f.
func scalarValue(l *Layout, f int, s Scalar) any {
	var c compute.Column
	c.ResetBitmap(l.Features[f], 1, false)
	switch {
	case c.I64 != nil:
		c.I64[0] = s.I
	case c.F64 != nil:
		c.F64[0] = s.F
	case c.B != nil:
		c.B[0] = s.B
	case c.S != nil:
		c.S[0] = s.S
	}
	return c.Value(0)
}

// runsLayout has runs of 8-byte features, long and short, between BOOL
// and STRING features, and more than 8 of them in a run, so that
// DecodeColumns' fixed segments start and end inside and across bytes of
// the null bitmap.
var runsLayout = Layout{
	SchemaVersion: 5,
	Features: []def.ValueType{
		def.Double, def.Double, def.Int64, def.Double, def.Timestamp, def.Double, def.Double, def.Double, def.Double, def.Int64, def.Double,
		def.Bool, def.Double, def.String, def.String, def.Int64, def.Double, def.Bool,
		def.Double, def.Double, def.Double, def.Timestamp, def.Double, def.Double, def.Double, def.Double, def.Double, def.Double,
	},
	Aggs: []AggLayout{{Func: def.Sum, In: def.Double}, {Func: def.Last, In: def.String}},
}

// TestDecodeColumns compares DecodeColumns with Decode on random values,
// with random selections, and on every truncation of them.
func TestDecodeColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, l := range []*Layout{&testLayout, &runsLayout, fiftyFeaturesLayout()} {
		no := len(l.Features) + len(l.Aggs)
		for range 2000 {
			b := l.Append(nil, randomValue(r, l))
			var want []bool
			if r.IntN(3) > 0 {
				want = make([]bool, no)
				p := r.IntN(4) // sparse to dense selections
				for o := range want {
					want[o] = r.IntN(4) < p+1
				}
			}
			decodeBoth(t, l, b, want)
			for cut := 1; cut <= 4 && cut < len(b); cut++ {
				decodeBoth(t, l, b[:len(b)-cut], want)
			}
			// A cut inside the features.
			decodeBoth(t, l, b[:r.IntN(len(b))], want)
			// A flipped byte: the same error, or the same values.
			c := bytes.Clone(b)
			c[r.IntN(len(c))] ^= byte(1 << r.IntN(8))
			decodeBoth(t, l, c, want)
		}
	}
}

// TestDecodeColumnsSelectionOfAnotherLayout: a Selection serves only the
// layout that built it.
func TestDecodeColumnsSelectionOfAnotherLayout(t *testing.T) {
	var sel Selection
	runsLayout.Select(nil, &sel)
	other := testLayout
	b := other.Append(nil, randomValue(rand.New(rand.NewPCG(1, 2)), &other))
	var v Value
	cols := make([]compute.Column, len(other.Features))
	if err := other.DecodeColumns(b, &v, &sel, cols, 0); err == nil {
		t.Fatal("DecodeColumns accepted a Selection of another layout")
	}
}

// TestSelectSegments pins Select's plan for runsLayout: runs of 8-byte
// features are one segment each, BOOL and STRING features one each, and
// each segment's selected features are its own.
func TestSelectSegments(t *testing.T) {
	want := make([]bool, len(runsLayout.Features)+len(runsLayout.Aggs))
	for _, f := range []int{1, 9, 10, 11, 13, 16, 27} {
		want[f] = true
	}
	var sel Selection
	runsLayout.Select(want, &sel)
	var got []string
	for _, g := range sel.segs {
		got = append(got, fmt.Sprintf("%d-%d%s%v", g.lo, g.hi, map[bool]string{true: "F", false: "V"}[g.fixed], sel.feats[g.flo:g.fhi]))
	}
	wantSegs := "[0-11F[1 9 10] 11-12V[11] 12-13F[] 13-14V[13] 14-15V[] 15-17F[16] 17-18V[] 18-28F[27]]"
	if fmt.Sprint(got) != wantSegs {
		t.Fatalf("segments %v, want %s", got, wantSegs)
	}
	// Reused for another selection, it forgets the first.
	runsLayout.Select(nil, &sel)
	if len(sel.feats) != len(runsLayout.Features) || len(sel.segs) != 8 {
		t.Fatalf("Select(nil): %d features in %d segments", len(sel.feats), len(sel.segs))
	}
}

// FuzzDecodeColumns: on any input DecodeColumns agrees with Decode.
//
//	go test ./featurestore/encoding -run '^$' -fuzz FuzzDecodeColumns -fuzztime 30s
func FuzzDecodeColumns(f *testing.F) {
	r := rand.New(rand.NewPCG(4, 4))
	for range 5 {
		f.Add(testLayout.Append(nil, randomValue(r, &testLayout)), uint16(0xffff))
	}
	f.Add([]byte{1, 0, 0, 0, 3, 0}, uint16(1))
	for range 5 {
		f.Add(runsLayout.Append(nil, randomValue(r, &runsLayout)), uint16(0x5a5a))
	}
	f.Fuzz(func(t *testing.T, b []byte, mask uint16) {
		for _, l := range []*Layout{&testLayout, &runsLayout} {
			no := len(l.Features) + len(l.Aggs)
			want := make([]bool, no)
			for o := range want {
				want[o] = mask&(1<<(o%16)) != 0
			}
			decodeBoth(t, l, b, want)
			decodeBoth(t, l, b, nil)
		}
	})
}

// TestDecodeColumnsAllocatesNothingForNumbers: as Decode.
func TestDecodeColumnsAllocatesNothingForNumbers(t *testing.T) {
	l, b := fiftyFeatures()
	cols := make([]compute.Column, len(l.Features))
	for f, ty := range l.Features {
		cols[f].ResetBitmap(ty, 4, true)
	}
	var v Value
	var sel Selection
	l.Select(nil, &sel)
	l.DecodeColumns(b, &v, &sel, cols, 2)
	if n := testing.AllocsPerRun(100, func() { l.DecodeColumns(b, &v, &sel, cols, 2) }); n != 0 {
		t.Fatalf("DecodeColumns allocates %v times", n)
	}
}

// BenchmarkDecodeColumns decodes the 50-feature value of
// BenchmarkDecodeValue into columns: all of it, and 10 features.
func BenchmarkDecodeColumns(b *testing.B) {
	l, data := fiftyFeatures()
	for _, sel := range []int{50, 10} {
		b.Run("want="+map[int]string{50: "all", 10: "10"}[sel], func(b *testing.B) {
			cols := make([]compute.Column, len(l.Features))
			for f, ty := range l.Features {
				cols[f].ResetBitmap(ty, 4, true)
			}
			var want []bool
			if sel < len(l.Features) {
				want = make([]bool, len(l.Features)+len(l.Aggs))
				for o := range sel {
					want[o] = true
				}
			}
			var v Value
			var sel Selection
			l.Select(want, &sel)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := l.DecodeColumns(data, &v, &sel, cols, 2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
