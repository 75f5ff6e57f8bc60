package serve

import (
	"encoding/binary"
	"math"
	"math/bits"
)

//go:generate go run featuresfloat_gen.go

// appendFloat appends f's shortest round-tripping decimal form, laid out
// as encoding/json does: plain decimal for 1e-6 <= |f| < 1e21, exponent
// form otherwise (e-7, not e-07). f must be finite. The output is byte for
// byte encoding/json's (strconv's shortest digits, then that layout);
// TestAppendFloatDifferential compares the two on millions of doubles.
//
// The digits come from Giulietti's Schubfach algorithm (three 128×64-bit
// multiplications against a table of powers of ten, no loop) and are
// converted eight at a time in a word: strconv's general path costs 2.5
// times as many instructions, and a JSON response of 100 entities × 50
// DOUBLE features is mostly doubles.
func appendFloat(b []byte, f float64) []byte {
	u := math.Float64bits(f)
	if u>>63 != 0 {
		b = append(b, '-')
		u &^= 1 << 63
	}
	if u == 0 {
		return append(b, '0')
	}
	d, e := shortestDecimal(u)
	var buf [24]byte
	i, tz := formatDigits(&buf, d)
	// Trailing zeros of d are part of the exponent, not the digits.
	digits := buf[i : len(buf)-tz]
	n := len(digits)
	dp := n + e + tz // the value is 0.digits × 10^dp
	switch {
	case dp < -5 || dp > 21: // |f| < 1e-6 or >= 1e21
		return appendExp(b, digits, dp-1)
	case dp <= 0: // 0.000ddd
		b = append(b, '0', '.')
		b = append(b, zeros[:-dp]...)
		return append(b, digits...)
	case dp >= n: // ddd000
		b = append(b, digits...)
		return append(b, zeros[:dp-n]...)
	}
	b = append(b, digits[:dp]...) // dd.ddd
	b = append(b, '.')
	return append(b, digits[dp:]...)
}

// appendExp appends the exponent form of 0.digits×10^(x+1): d[.ddd]e±x,
// as encoding/json writes it (e-7, not e-07).
func appendExp(b []byte, digits []byte, x int) []byte {
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	if x < 0 {
		b = append(b, 'e', '-')
		x = -x
	} else {
		b = append(b, 'e', '+')
	}
	if x >= 100 {
		b = append(b, byte('0'+x/100))
		x %= 100
		return append(b, digitPairs[2*x], digitPairs[2*x+1])
	}
	if x >= 10 {
		return append(b, digitPairs[2*x], digitPairs[2*x+1])
	}
	return append(b, byte('0'+x))
}

// zeros pads appendFloat's plain decimals (|f| < 1e21: at most 20 zeros;
// >= 1e-6: at most 5).
var zeros = []byte("000000000000000000000000")

// digitPairs holds "00" to "99", for the exponent.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// formatDigits writes d's decimal digits (d < 10^24) at the end of buf
// and returns where they start and how many of them are trailing zeros
// (fewer than the digits). It converts 8 digits at a time in a word
// (SWAR: eight lanes of one byte), so that it stores words, not bytes.
func formatDigits(buf *[24]byte, d uint64) (start, tz int) {
	if d < 1e8 {
		w := digits8(uint32(d))
		n := decimalLen(d)
		tz = bits.LeadingZeros64(w) / 8
		binary.LittleEndian.PutUint64(buf[16:], w|ascii0)
		return 24 - n, min(tz, n-1)
	}
	hi, lo := d/1e8, uint32(d%1e8)
	wl := digits8(lo)
	binary.LittleEndian.PutUint64(buf[16:], wl|ascii0)
	tz = bits.LeadingZeros64(wl) / 8
	if hi < 1e8 {
		wh := digits8(uint32(hi))
		binary.LittleEndian.PutUint64(buf[8:], wh|ascii0)
		if tz == 8 {
			tz += bits.LeadingZeros64(wh) / 8
		}
		return 16 - decimalLen(hi), tz
	}
	top, mid := hi/1e8, uint32(hi%1e8)
	wm := digits8(mid)
	binary.LittleEndian.PutUint64(buf[8:], wm|ascii0)
	binary.LittleEndian.PutUint64(buf[0:], digits8(uint32(top))|ascii0)
	if tz == 8 {
		tz += bits.LeadingZeros64(wm) / 8
		// A nonzero top word ends the zeros: 16 at most.
	}
	return 8 - decimalLen(top), tz
}

// ascii0 turns eight digit values 0-9 into ASCII.
const ascii0 = 0x3030303030303030

// digits8 returns the 8 decimal digits of x < 10^8, zero-padded, as byte
// values 0-9 in a little-endian word: the first digit in the lowest byte.
// It splits x into halves of 4 digits, then 2, then 1, all lanes at once,
// dividing by multiplying with reciprocals exact over each lane's range.
func digits8(x uint32) uint64 {
	// Lanes of 32 bits: x/10^4 | x%10^4 << 32.
	hi := uint64(x / 10000)
	v := hi | (uint64(x)-hi*10000)<<32
	// Lanes of 16 bits: each 4-digit lane split by 100 (·10486 >> 20 is /100 below 10^4).
	q := (v * 10486 >> 20) & 0x0000007f_0000007f
	v = q | (v-q*100)<<16
	// Lanes of 8 bits: each 2-digit lane split by 10 (·103 >> 10 is /10 below 100).
	q = (v * 103 >> 10) & 0x000f000f_000f000f
	return q | (v-q*10)<<8
}

// decimalLen returns the number of decimal digits of d (1 for 0).
func decimalLen(d uint64) int {
	// ⌊log10⌋ from the bit length, corrected by one comparison.
	n := (bits.Len64(d|1) * 1233) >> 12
	if d >= pow10u64[n] {
		n++
	}
	return n
}

var pow10u64 = [...]uint64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

// Bounds of the decimal exponents k the conversion scales by 10^-k.
const (
	floatKMin = -324
	floatKMax = 292
)

// shortestDecimal returns the shortest decimal d×10^e that rounds to the
// positive finite double with bits u (the closest such decimal, ties to an
// even d), by the Schubfach algorithm (R. Giulietti, "The Schubfach way to
// render doubles", 2020; this follows his Java implementation in the JDK,
// with a 128-bit table). d may have trailing zeros.
func shortestDecimal(u uint64) (d uint64, e int) {
	t := u & (1<<52 - 1)
	bq := int(u >> 52)
	var c uint64
	var q int
	if bq != 0 {
		c = 1<<52 | t
		q = bq - 1075
		// Integers below 2^53: the digits of the integer.
		if mq := -q; 0 < mq && mq < 53 {
			if f := c >> mq; f<<mq == c {
				return f, 0
			}
		}
	} else { // subnormal
		c = t
		q = -1074
	}
	// The value is c·2^q; the decimals that round to it lie in [cbl, cbr]
	// (×2^(q-2)), ends included when c is even (round half to even).
	out := c & 1
	cb := c << 2
	cbr := cb + 2
	var cbl uint64
	var k int
	if c != 1<<52 || q == -1074 {
		cbl = cb - 2
		k = flog10pow2(q)
	} else {
		// At a power of two the double below is closer.
		cbl = cb - 1
		k = flog10ThreeQuartersPow2(q)
	}
	h := q + flog2pow10(-k) + 1
	g := &floatPow10[k-floatKMin]
	vb := roundToOdd(g, cb<<h)
	vbl := roundToOdd(g, cbl<<h) + out
	vbr := roundToOdd(g, cbr<<h) - out
	s := vb >> 2
	if s >= 10 {
		// One digit fewer: at most one multiple of 10 lies in range.
		sp10 := s / 10 * 10
		tp10 := sp10 + 10
		upin := vbl <= sp10<<2
		wpin := tp10<<2 <= vbr
		if upin != wpin {
			if upin {
				return sp10, k
			}
			return tp10, k
		}
	}
	tt := s + 1
	uin := vbl <= s<<2
	win := tt<<2 <= vbr
	if uin != win {
		if uin {
			return s, k
		}
		return tt, k
	}
	// Both in range: the closer, ties to even.
	mid := (s + tt) << 1
	if vb < mid || vb == mid && s&1 == 0 {
		return s, k
	}
	return tt, k
}

// roundToOdd returns ⌊g·cp/2^128⌋, with its lowest bit set when the
// product is not an integer.
func roundToOdd(g *[2]uint64, cp uint64) uint64 {
	x1, _ := bits.Mul64(g[1], cp)
	y1, y0 := bits.Mul64(g[0], cp)
	z, carry := bits.Add64(y0, x1, 0)
	vb := y1 + carry
	if z != 0 {
		vb |= 1
	}
	return vb
}

// flog10pow2 is ⌊q·log10(2)⌋ for |q| <= 5456.
func flog10pow2(q int) int { return q * 661_971_961_083 >> 41 }

// flog10ThreeQuartersPow2 is ⌊q·log10(2) + log10(3/4)⌋ for |q| <= 5456.
func flog10ThreeQuartersPow2(q int) int {
	return (q*661_971_961_083 - 274_743_187_321) >> 41
}

// flog2pow10 is ⌊e·log2(10)⌋ for |e| <= 1233.
func flog2pow10(e int) int { return e * 913_124_641_741 >> 38 }
