package encoding

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// TestKeyBytes pins the key format: changing it would orphan every stored
// value.
func TestKeyBytes(t *testing.T) {
	k := AppendKeyPrefix(nil, TagEntity, 7)
	k = AppendInt64(k, -2)
	k = AppendString(k, "a\x00b")
	want := "65" + "00000007" + "7ffffffffffffffe" + "6100ff62" + "0001"
	if got := hex.EncodeToString(k); got != want {
		t.Fatalf("key bytes %s, want %s", got, want)
	}
	tag, view, parts, err := DecodeKey(k, []def.ValueType{def.Int64, def.String}, nil)
	if err != nil || tag != TagEntity || view != 7 || parts[0].I != -2 || parts[1].S != "a\x00b" {
		t.Fatalf("decoded %c %d %+v %v", tag, view, parts, err)
	}
}

// TestKeyOrder: byte order of encoded keys is the order of their parts.
func TestKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	type kv struct {
		i int64
		s string
		b []byte
	}
	var keys []kv
	strs := []string{"", "a", "a\x00", "a\x00b", "ab", "b", "\x00", "\xff", "a\x01"}
	ints := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, -1 << 40}
	for n := 0; n < 500; n++ {
		i := ints[r.IntN(len(ints))]
		if r.IntN(2) == 0 {
			i = r.Int64() - math.MaxInt64/2
		}
		s := strs[r.IntN(len(strs))]
		keys = append(keys, kv{i, s, AppendString(AppendInt64(AppendKeyPrefix(nil, TagEntity, 1), i), s)})
	}
	sort.Slice(keys, func(a, b int) bool { return bytes.Compare(keys[a].b, keys[b].b) < 0 })
	for n := 1; n < len(keys); n++ {
		a, b := keys[n-1], keys[n]
		if a.i > b.i || (a.i == b.i && a.s > b.s) {
			t.Fatalf("byte order puts (%d %q) before (%d %q)", a.i, a.s, b.i, b.s)
		}
	}
}

var testLayout = Layout{
	SchemaVersion: 3,
	Features:      []def.ValueType{def.Double, def.Int64, def.String, def.Bool, def.Timestamp},
	Aggs: []AggLayout{
		{Func: def.Sum, In: def.Double}, {Func: def.Count}, {Func: def.Sum, In: def.Int64},
		{Func: def.Mean, In: def.Double}, {Func: def.Stddev, In: def.Double},
		{Func: def.Max, In: def.String}, {Func: def.Min, In: def.Int64}, {Func: def.Last, In: def.Bool},
	},
}

// TestValueBytes pins the value format with a small value.
func TestValueBytes(t *testing.T) {
	l := Layout{SchemaVersion: 1, Features: []def.ValueType{def.Double, def.String}, Aggs: []AggLayout{{Func: def.Count}}}
	v := &Value{Through: -1, HasRow: true, EventTS: 1, Created: compute.NullCreated,
		Features: []Scalar{{Null: true}, {S: "hi"}},
		Tiles:    []compute.Tiles{{{K: 10, Acc: compute.Acc{N: 2}}, {K: 12, Acc: compute.Acc{N: 1}}}}}
	b := l.Append(nil, v)
	want := "01" + "00000001" + "01" + "01" + "0100000000000000" + "0000000000000080" + "01" + "02" + "6869" +
		"02" + "14" + "02" + "04" + "01"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("value bytes\n got %s\nwant %s", got, want)
	}
	var back Value
	if err := l.Decode(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, v) {
		t.Fatalf("round trip: %+v", back)
	}
}

func randomValue(r *rand.Rand, l *Layout) *Value {
	v := &Value{Through: r.Int64() - math.MaxInt64/2, HasRow: r.IntN(5) != 0, EventTS: r.Int64() - math.MaxInt64/2, Created: r.Int64N(10) - 5}
	if v.HasRow {
		for _, t := range l.Features {
			s := Scalar{Null: r.IntN(4) == 0}
			if !s.Null {
				switch t {
				case def.Int64, def.Timestamp:
					s.I = r.Int64() - math.MaxInt64/2
				case def.Double:
					s.F = []float64{r.NormFloat64(), math.Inf(1), math.Copysign(0, -1), 1e300}[r.IntN(4)]
				case def.Bool:
					s.B = r.IntN(2) == 0
				case def.String:
					s.S = string([]byte{'a', 0, 0xff}[:r.IntN(4)%3])
				}
			}
			v.Features = append(v.Features, s)
		}
	} else {
		v.EventTS, v.Created = 0, 0
	}
	for _, a := range l.Aggs {
		var tiles compute.Tiles
		k := r.Int64N(1000) - 500
		for n := r.IntN(5); n > 0; n-- {
			k += 1 + r.Int64N(50)
			acc := compute.Acc{N: 1 + r.Int64N(100)}
			switch a.Func {
			case def.Sum, def.Mean, def.Min, def.Max, def.Last, def.Stddev:
				switch a.In {
				case def.Int64:
					if a.Func == def.Sum || a.Func == def.Min || a.Func == def.Max || a.Func == def.Last {
						acc.I = r.Int64() - math.MaxInt64/2
					}
				case def.String:
					acc.S = "v" + string(rune('a'+r.IntN(26)))
				case def.Bool:
					acc.B = r.IntN(2) == 0
				}
				if a.In == def.Double || a.Func == def.Mean || a.Func == def.Stddev {
					acc.F = r.NormFloat64()
				}
				if a.Func == def.Stddev {
					acc.M2 = r.Float64()
				}
				if a.Func == def.Last {
					acc.TS, acc.Created = r.Int64N(1e12), r.Int64N(3)-1
				}
			}
			tiles = append(tiles, compute.Tile{K: k, Acc: acc})
		}
		v.Tiles = append(v.Tiles, tiles)
	}
	return v
}

func TestValueRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	var back Value
	for i := 0; i < 2000; i++ {
		v := randomValue(r, &testLayout)
		b := testLayout.Append(nil, v)
		if err := testLayout.Decode(b, &back); err != nil {
			t.Fatalf("decode: %v", err)
		}
		want := *v
		if !want.HasRow {
			want.Features = nil
		}
		got := back
		if len(got.Features) == 0 {
			got.Features = nil
		}
		for ai := range got.Tiles {
			if len(got.Tiles[ai]) == 0 {
				got.Tiles[ai] = nil
			}
		}
		if !reflect.DeepEqual(&got, &want) {
			t.Fatalf("round trip %d:\n got %+v\nwant %+v", i, got, want)
		}
		// Every truncation is an error, never a misread.
		for cut := 1; cut <= 3 && cut < len(b); cut++ {
			if err := testLayout.Decode(b[:len(b)-cut], &back); err == nil {
				t.Fatalf("value cut by %d bytes decoded", cut)
			}
		}
	}
	other := testLayout
	other.SchemaVersion = 4
	if err := other.Decode(testLayout.Append(nil, randomValue(r, &testLayout)), &back); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("another schema version decoded: %v", err)
	}
}

// TestDecodeAllocatesOnlyStrings: reading a numeric value into a reused
// Value allocates nothing.
func TestDecodeAllocatesNothingForNumbers(t *testing.T) {
	l := Layout{SchemaVersion: 1, Features: []def.ValueType{def.Double, def.Int64, def.Double}, Aggs: []AggLayout{{Func: def.Sum, In: def.Double}, {Func: def.Count}}}
	v := &Value{HasRow: true, Features: []Scalar{{F: 1}, {I: 2}, {Null: true}}, Tiles: []compute.Tiles{{{K: 1, Acc: compute.Acc{N: 1, F: 2}}}, {{K: 1, Acc: compute.Acc{N: 3}}}}}
	b := l.Append(nil, v)
	var back Value
	l.Decode(b, &back)
	if n := testing.AllocsPerRun(100, func() { l.Decode(b, &back) }); n != 0 {
		t.Fatalf("decode allocates %v times", n)
	}
}

// FuzzDecodeValue: no input panics; what decodes re-encodes to the same
// bytes.
//
//	go test ./featurestore/encoding -run '^$' -fuzz FuzzDecodeValue -fuzztime 30s
func FuzzDecodeValue(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 5; i++ {
		f.Add(testLayout.Append(nil, randomValue(r, &testLayout)))
	}
	f.Add([]byte{1, 0, 0, 0, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v Value
		if err := testLayout.Decode(b, &v); err != nil {
			return
		}
		if again := testLayout.Append(nil, &v); !bytes.Equal(again, b) {
			t.Fatalf("decoded value re-encodes differently:\n in  %x\n out %x", b, again)
		}
	})
}

// FuzzDecodeKey: no input panics; what decodes re-encodes to the same bytes.
func FuzzDecodeKey(f *testing.F) {
	f.Add(AppendString(AppendInt64(AppendKeyPrefix(nil, TagEntity, 1), 5), "x\x00"))
	f.Add([]byte{'e', 0, 0, 0, 1, 0, 0})
	types := []def.ValueType{def.Int64, def.String}
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, view, parts, err := DecodeKey(b, types, nil)
		if err != nil {
			return
		}
		again := AppendString(AppendInt64(AppendKeyPrefix(nil, tag, view), parts[0].I), parts[1].S)
		if !bytes.Equal(again, b) {
			t.Fatalf("key re-encodes differently: %x vs %x", b, again)
		}
	})
}

// TestReaderVarint compares reader.varint, whose values of up to 8 bytes
// are decoded from one word, with binary.Varint and the minimal-encoding
// rule: on every length, followed by more bytes or not, on non-minimal
// and truncated encodings, and on random bytes.
func TestReaderVarint(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		want, n := binary.Varint(b)
		wantOK := n > 0 && !(n > 1 && b[n-1] == 0)
		r := reader{b: b}
		got := r.varint("x")
		switch {
		case wantOK != (r.err == nil):
			t.Fatalf("% x: error %v, want ok %v", b, r.err, wantOK)
		case wantOK && (got != want || len(r.b) != len(b)-n):
			t.Fatalf("% x: %d with %d bytes left, want %d with %d", b, got, len(r.b), want, len(b)-n)
		}
	}
	r := rand.New(rand.NewPCG(31, 32))
	vals := []int64{0, 1, -1, 63, -64, 64, math.MaxInt64, math.MinInt64, 1 << 55, -1 << 55, 1<<62 - 1}
	for bitsN := 0; bitsN < 64; bitsN++ {
		x := r.Int64() >> (63 - bitsN) // bitsN bits at most
		vals = append(vals, 1<<bitsN, -1<<bitsN, 1<<bitsN-1, x, -x)
	}
	for range 20000 {
		vals = append(vals, r.Int64())
	}
	for _, v := range vals {
		enc := binary.AppendVarint(nil, v)
		for tail := 0; tail <= 9; tail++ {
			b := append(bytes.Clone(enc), make([]byte, tail)...)
			for i := len(enc); i < len(b); i++ {
				b[i] = byte(r.Uint32())
			}
			check(b)
			check(b[:len(enc)-1]) // truncated
		}
		// Non-minimal: a continuation byte and a zero byte more.
		nm := bytes.Clone(enc)
		nm[len(nm)-1] |= 0x80
		check(append(nm, 0))
		check(append(nm, 0, 1, 2, 3, 4, 5, 6, 7, 8))
	}
	for range 100000 {
		b := make([]byte, r.IntN(14))
		for i := range b {
			b[i] = byte(r.Uint32())
			if r.IntN(3) > 0 {
				b[i] |= 0x80
			}
		}
		check(b)
	}
}
