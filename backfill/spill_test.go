package backfill

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

var spillLayout = []def.ValueType{def.Int64, def.Double, def.Bool, def.String, def.Timestamp, def.Int64, def.Double, def.String, def.Bool}

func randomColumns(r *rand.Rand, n int) []*compute.Column {
	cols := make([]*compute.Column, len(spillLayout))
	for i, t := range spillLayout {
		c := &compute.Column{}
		c.ResetBitmap(t, n, false)
		for row := 0; row < n; row++ {
			if r.IntN(4) == 0 {
				c.Valid.Clear(row)
				continue
			}
			switch t {
			case def.Int64, def.Timestamp:
				c.I64[row] = r.Int64() - math.MaxInt64/2
			case def.Double:
				c.F64[row] = []float64{r.NormFloat64(), math.NaN(), math.Inf(-1), math.Copysign(0, -1)}[r.IntN(4)]
			case def.Bool:
				c.B[row] = r.IntN(2) == 0
			case def.String:
				c.S[row] = string([]byte{byte(r.IntN(256)), 'x', 0})[:r.IntN(4)]
			}
		}
		cols[i] = c
	}
	return cols
}

// TestSpillRoundTrip writes random records, including nulls, NaN, -0 and
// odd strings, and reads them back exactly.
func TestSpillRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	in := randomColumns(r, 500)
	path := filepath.Join(t.TempDir(), "spill")
	w, err := newSpillWriter(path, spillLayout, 64)
	if err != nil {
		t.Fatal(err)
	}
	for row := 0; row < 500; row++ {
		if err := w.write(in, row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	out := make([]*compute.Column, len(spillLayout))
	for i := range out {
		out[i] = &compute.Column{}
	}
	if err := decodeSpill(data, spillLayout, out); err != nil {
		t.Fatal(err)
	}
	for i := range spillLayout {
		if out[i].Len != 500 {
			t.Fatalf("column %d: %d rows", i, out[i].Len)
		}
		for row := 0; row < 500; row++ {
			a, b := in[i].Value(row), out[i].Value(row)
			if fa, ok := a.(float64); ok {
				fb := b.(float64)
				if math.Float64bits(fa) != math.Float64bits(fb) && !(math.IsNaN(fa) && math.IsNaN(fb)) {
					t.Fatalf("column %d row %d: %v != %v", i, row, a, b)
				}
				continue
			}
			if a != b {
				t.Fatalf("column %d row %d: %#v != %#v", i, row, a, b)
			}
		}
	}
	// Every proper prefix that cuts a record is reported, never misread.
	for cut := 1; cut < 40; cut++ {
		cols := make([]*compute.Column, len(spillLayout))
		for i := range cols {
			cols[i] = &compute.Column{}
		}
		if err := decodeSpill(data[:len(data)-cut], spillLayout, cols); err == nil && cols[0].Len == 500 {
			t.Fatalf("a file cut by %d bytes decoded as complete", cut)
		}
	}
}

// FuzzDecodeSpill: no byte string may panic the decoder.
//
//	go test ./backfill -run '^$' -fuzz FuzzDecodeSpill -fuzztime 30s
func FuzzDecodeSpill(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 5))
	in := randomColumns(r, 3)
	path := filepath.Join(f.TempDir(), "seed")
	w, _ := newSpillWriter(path, spillLayout, 64)
	for row := 0; row < 3; row++ {
		w.write(in, row)
	}
	w.close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte) {
		cols := make([]*compute.Column, len(spillLayout))
		for i := range cols {
			cols[i] = &compute.Column{}
		}
		if err := decodeSpill(data, spillLayout, cols); err != nil {
			return
		}
		for i, c := range cols {
			if c.Len != cols[0].Len {
				t.Fatalf("column %d has %d rows, column 0 %d", i, c.Len, cols[0].Len)
			}
		}
	})
}
