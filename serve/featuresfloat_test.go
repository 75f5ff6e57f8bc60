package serve

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// refFloat is encoding/json's float64 encoding, the reference appendFloat
// must match byte for byte: strconv's shortest digits, 'f' layout for
// 1e-6 <= |f| < 1e21 and 'e' otherwise, with e-07 cleaned to e-7.
func refFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	b = strconv.AppendFloat(b, f, fmt, -1, 64)
	if fmt == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func checkFloat(t testing.TB, f float64, got, want []byte) ([]byte, []byte) {
	got = appendFloat(got[:0], f)
	want = refFloat(want[:0], f)
	if !bytes.Equal(got, want) {
		t.Fatalf("appendFloat(%b = %#x) = %s, want %s", f, math.Float64bits(f), got, want)
	}
	return got, want
}

// TestAppendFloatDifferential compares appendFloat with the reference on
// random bit patterns, "nice" decimals, integers, subnormals, powers of
// ten and two and their neighbours, and the layout boundaries.
func TestAppendFloatDifferential(t *testing.T) {
	n := 2_000_000
	if testing.Short() {
		n = 200_000
	}
	r := rand.New(rand.NewPCG(11, 12))
	got, want := make([]byte, 0, 64), make([]byte, 0, 64)
	finite := func(u uint64) (float64, bool) {
		f := math.Float64frombits(u)
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	check := func(f float64) { got, want = checkFloat(t, f, got, want) }
	checkBits := func(u uint64) {
		if f, ok := finite(u); ok {
			check(f)
		}
	}
	// Random bits: every exponent equally likely.
	for range n {
		checkBits(r.Uint64())
	}
	// Random values as features hold them: uniform in ranges.
	for range n / 4 {
		check(r.Float64())
		check(r.Float64() * 1000)
		check(r.NormFloat64() * 1e6)
	}
	// Nice decimals: few digits, as parsed from text (12.34, 0.001, 5e-7).
	for range n / 4 {
		digits := r.Int64N(1_000_000_000)
		if r.IntN(2) == 0 {
			digits = r.Int64N(100_000)
		}
		s := strconv.FormatInt(digits, 10) + "e" + strconv.Itoa(r.IntN(60)-40)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		check(f)
		check(-f)
		check(math.Nextafter(f, math.Inf(1)))
		check(math.Nextafter(f, 0))
	}
	// Integers, small and up to and past 2^53.
	for i := range 100_000 {
		check(float64(i))
		check(float64(r.Int64N(1 << 53)))
		check(float64(r.Int64()))
		check(float64(r.Uint64()))
	}
	// Subnormals: the smallest exhaustively, the rest at random.
	for u := uint64(1); u < 200_000; u++ {
		checkBits(u)
	}
	for range n / 10 {
		checkBits(r.Uint64N(1 << 52))
	}
	// Powers of ten and two, with their neighbours.
	for e := -330; e <= 310; e++ {
		f, _ := strconv.ParseFloat("1e"+strconv.Itoa(e), 64)
		for _, g := range []float64{f, math.Nextafter(f, math.Inf(1)), math.Nextafter(f, 0)} {
			if g != 0 && !math.IsInf(g, 0) {
				check(g)
			}
		}
	}
	for e := -1074; e <= 1023; e++ {
		f := math.Ldexp(1, e)
		check(f)
		check(math.Nextafter(f, math.Inf(1)))
		check(math.Nextafter(f, 0))
		// Every exponent with its smallest and largest significands.
		u := math.Float64bits(f) &^ (1<<52 - 1)
		checkBits(u | 1)
		checkBits(u | (1<<52 - 1))
	}
	for _, f := range []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3,
		1e-6, 9.999999999999999e-7, 1e21, 999999999999999900000, 1e20, 1e-7, 1e-5,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
		0x1p-1022, math.MaxInt64, math.MinInt64, 1 << 53, 1<<53 + 2, 123456789012345680000,
		5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 2.225073858507201e-308,
	} {
		check(f)
		check(-f)
	}
}

// TestAppendFloatJSON checks the reference itself against encoding/json.
func TestAppendFloatJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 20_000 {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, f); !bytes.Equal(got, want) {
			t.Fatalf("appendFloat(%v) = %s, encoding/json %s", f, got, want)
		}
	}
}

// TestAppendFloatAppends: appendFloat writes past len(b) in words, so
// check that it appends (keeping what b holds) whatever b's spare
// capacity, none included, in every layout and at every alignment.
func TestAppendFloatAppends(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	vals := []float64{
		0, math.Copysign(0, -1), 1, -1, 0.5, 123.456, -123.456, 1e20, 1.5e20, 123456789012345680000,
		1e21, 1e-6, 1.2345e-6, 1e-7, 5e-324, -math.MaxFloat64, 0.1, 1.0 / 3, 12345678.9, 1234567890123456.7,
	}
	for range 1000 {
		vals = append(vals, r.Float64(), math.Float64frombits(r.Uint64()&^(0x7ff<<52)|uint64(r.IntN(0x7ff))<<52))
	}
	var want []byte
	for _, f := range vals {
		want = refFloat(want[:0], f)
		for prefix := 0; prefix < 10; prefix++ {
			for _, spare := range []int{0, 1, 7, floatRoom - 1, floatRoom, 100} {
				b := make([]byte, prefix, prefix+spare)
				for i := range b {
					b[i] = 'p'
				}
				got := appendFloat(b, f)
				if string(got[:prefix]) != strings.Repeat("p", prefix) || string(got[prefix:]) != string(want) {
					t.Fatalf("appendFloat(%q (cap %d), %v) = %q, want the prefix then %s", b, cap(b), f, got, want)
				}
			}
		}
	}
}

// TestAppendDoubles: a DOUBLE column's values, comma-separated, with null
// for null rows, NaN and infinities, after what the buffer holds, whatever
// its spare capacity.
func TestAppendDoubles(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 1e21, -1e-7, 123.25, math.MaxFloat64}
	for _, n := range []int{1, 2, 3, 10, 100} {
		for range 50 {
			var c compute.Column
			c.ResetBitmap(def.Double, n, false)
			var want strings.Builder
			for i := range n {
				f := r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
				if r.IntN(4) == 0 {
					f = specials[r.IntN(len(specials))]
				}
				c.F64[i] = f
				if r.IntN(5) == 0 {
					c.Valid.Clear(i)
				}
				if i > 0 {
					want.WriteByte(',')
				}
				if !c.Valid.Get(i) || math.IsNaN(f) || math.IsInf(f, 0) {
					want.WriteString("null")
				} else {
					want.Write(refFloat(nil, f))
				}
			}
			for _, spare := range []int{0, 5, 1000, 3 + n*(floatMax+1) + floatRoom} {
				b := append(make([]byte, 0, 3+spare), `"x"`...)
				got := appendDoubles(b, &c, n)
				if string(got) != `"x"`+want.String() {
					t.Fatalf("appendDoubles = %s, want \"x\"%s", got, want.String())
				}
			}
		}
	}
}

// TestAppendDoublesLongest: a column of the longest values, which the
// room appendDoubles reserves must hold.
func TestAppendDoublesLongest(t *testing.T) {
	for _, f := range []float64{-7.0881009370104256e-6, -1.2345678901234567e-300, -1.2345678901234567e20} {
		want := refFloat(nil, f)
		if f == -7.0881009370104256e-6 && len(want) != floatMax {
			t.Fatalf("%s: %d bytes; floatMax is %d", want, len(want), floatMax)
		}
		for _, n := range []int{1, 2, 50, 100, 1000} {
			var c compute.Column
			c.ResetBitmap(def.Double, n, false)
			for i := range c.F64 {
				c.F64[i] = f
			}
			for _, prefix := range []int{0, 1, 7} {
				b := make([]byte, prefix)
				got := appendDoubles(b, &c, n)
				if len(got) != prefix+n*(len(want)+1)-1 || !bytes.Equal(got[prefix:prefix+len(want)], want) || !bytes.HasSuffix(got, want) {
					t.Fatalf("%d × %s: %d bytes: %.60s…", n, want, len(got), got)
				}
			}
		}
	}
}

// FuzzAppendFloat: appendFloat matches the reference on any finite
// double, and its output parses back to the same double.
func FuzzAppendFloat(f *testing.F) {
	for _, u := range []uint64{0, 1, 1 << 52, 0x3ff0000000000000, 0x7fefffffffffffff, 0x8000000000000001, 0x3eb0c6f7a0b5ed8d} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u uint64) {
		x := math.Float64frombits(u)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		got, _ := checkFloat(t, x, nil, nil)
		back, err := strconv.ParseFloat(string(got), 64)
		if err != nil || math.Float64bits(back) != u && x != 0 {
			t.Fatalf("%s parses as %v (%v), want %v", got, back, err, x)
		}
	})
}

// TestFloatPow10Table checks the generated table against math/big: entry
// k is ⌊10^-k·2^-r⌋ + 1 with 2^127 <= it < 2^128, and the exponent r
// matches flog2pow10 as shortestDecimal uses it.
func TestFloatPow10Table(t *testing.T) {
	if len(floatPow10) != floatKMax-floatKMin+1 {
		t.Fatalf("%d entries, want %d", len(floatPow10), floatKMax-floatKMin+1)
	}
	ten := big.NewInt(10)
	one := big.NewInt(1)
	for k := floatKMin; k <= floatKMax; k++ {
		e := -k
		// r = flog2pow10(e) - 127: 10^e = β·2^r with 2^127 <= β < 2^128.
		r := flog2pow10(e) - 127
		var beta *big.Int // ⌊10^e·2^-r⌋
		if e >= 0 {
			p := new(big.Int).Exp(ten, big.NewInt(int64(e)), nil)
			if p.BitLen()-1 != flog2pow10(e) {
				t.Fatalf("flog2pow10(%d) = %d, want %d", e, flog2pow10(e), p.BitLen()-1)
			}
			if r >= 0 {
				beta = p.Rsh(p, uint(r))
			} else {
				beta = p.Lsh(p, uint(-r))
			}
		} else {
			d := new(big.Int).Exp(ten, big.NewInt(int64(-e)), nil)
			// ⌊log2(10^e)⌋ = -⌈log2(10^-e)⌉ = -bitlen(10^-e) (not a power of 2).
			if -d.BitLen() != flog2pow10(e) {
				t.Fatalf("flog2pow10(%d) = %d, want %d", e, flog2pow10(e), -d.BitLen())
			}
			beta = new(big.Int).Lsh(one, uint(-r))
			beta.Quo(beta, d)
		}
		g := beta.Add(beta, one)
		if g.BitLen() != 128 {
			t.Fatalf("k=%d: g has %d bits", k, g.BitLen())
		}
		want := [2]uint64{new(big.Int).Rsh(g, 64).Uint64(), new(big.Int).And(g, new(big.Int).SetUint64(math.MaxUint64)).Uint64()}
		if floatPow10[k-floatKMin] != want {
			t.Fatalf("k=%d: table %#x, want %#x", k, floatPow10[k-floatKMin], want)
		}
	}
	for q := -1074; q <= 971; q++ {
		// ⌊q·log10(2)⌋, checked against math/big for the range used.
		if k := flog10pow2(q); !pow10Brackets(k, q) {
			t.Fatalf("flog10pow2(%d) = %d", q, k)
		}
	}
}

// pow10Brackets reports whether 10^k <= 2^q < 10^(k+1).
func pow10Brackets(k, q int) bool {
	pow := func(b int64, e int) *big.Rat {
		x := new(big.Int).Exp(big.NewInt(b), big.NewInt(int64(abs(e))), nil)
		if e < 0 {
			return new(big.Rat).SetFrac(big.NewInt(1), x)
		}
		return new(big.Rat).SetInt(x)
	}
	two := pow(2, q)
	return pow(10, k).Cmp(two) <= 0 && two.Cmp(pow(10, k+1)) < 0
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkAppendFloat compares appendFloat with the reference on random
// feature-like doubles and on short decimals.
//
//	go test ./serve -run '^$' -bench AppendFloat -count 8 | benchstat -col /impl -
func BenchmarkAppendFloat(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	sets := map[string][]float64{}
	for range 1024 {
		sets["random"] = append(sets["random"], r.Float64()*float64(r.IntN(50)+1))
		f, _ := strconv.ParseFloat(strconv.Itoa(r.IntN(100000))+"e-2", 64)
		sets["short"] = append(sets["short"], f)
	}
	for _, set := range []string{"random", "short"} {
		vals := sets[set]
		for _, impl := range []struct {
			name string
			fn   func([]byte, float64) []byte
		}{{"schubfach", appendFloat}, {"strconv", refFloat}} {
			b.Run("set="+set+"/impl="+impl.name, func(b *testing.B) {
				buf := make([]byte, 0, 64)
				i := 0
				for b.Loop() {
					buf = impl.fn(buf[:0], vals[i&1023])
					i++
				}
			})
		}
	}
}

// BenchmarkAppendDoubles formats columns of 100 doubles as
// get-online-features does: uniform in [0, 1), as the wide benchmark's
// features, or short decimals (12.5, 0.25). It cycles through 64 columns,
// so that branch predictors cannot learn one column's digits.
//
//	go test ./serve -run '^$' -bench AppendDoubles -count 10 | benchstat -
func BenchmarkAppendDoubles(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, set := range []string{"uniform", "short"} {
		cols := make([]compute.Column, 64)
		for k := range cols {
			c := &cols[k]
			c.ResetBitmap(def.Double, 100, false)
			for i := range c.F64 {
				c.F64[i] = r.Float64()
				if set == "short" {
					c.F64[i] = float64(r.IntN(10000)) / 4
				}
			}
		}
		b.Run("set="+set, func(b *testing.B) {
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				buf = appendDoubles(buf[:0], &cols[k%len(cols)], 100)
				k++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/value")
		})
	}
}
