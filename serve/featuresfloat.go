package serve

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"

	"github.com/fstore/fstore/compute"
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
//
// It writes in b's capacity (see putFloats), so it may leave scratch
// bytes there past what it appends.
func appendFloat(b []byte, f float64) []byte {
	b = slices.Grow(b, floatRoom)
	fs := [1]float64{f}
	return b[:putFloats(b[:cap(b)], len(b), fs[:], nil)]
}

// floatMax is the longest output of putFloats for a value:
// -0.00000ddddddddddddddddd (-d.ddddddddddddddddde-308 is one shorter).
const floatMax = 25

// floatRoom is the room putFloats writes a value in: its widest word
// stores reach 42 bytes (sign, 17 digits, 24 bytes of zeros).
const floatRoom = 48

// putFloats writes fs at out[pos:] in appendFloat's form, comma-separated,
// with null for a value that is not valid (by valid, a bitmap; nil: all
// are) or not finite, and returns where they end. out must hold
// floatRoom bytes past where each value starts: len(fs)·(floatMax+1) +
// floatRoom past pos suffice.
//
// It writes in words: the digits go straight to where the layout puts
// them, and the zeros, the decimal point and the shifts the layout needs
// are word stores too, not appends and copies (which cost as much as the
// digits). The bytes of out past the end are scratch. It takes a column
// at once, not a value, so that a value costs no call but the
// conversion's own.
func putFloats(out []byte, pos int, fs []float64, valid compute.Bitmap) int {
	for i, f := range fs {
		if i > 0 {
			out[pos] = ','
			pos++
		}
		p := (*[floatRoom]byte)(out[pos : pos+floatRoom])
		u := math.Float64bits(f)
		if !valid.Get(i) || u&(0x7ff<<52) == 0x7ff<<52 {
			// Null, NaN or an infinity.
			pos += copy(p[:], "null")
			continue
		}
		o := 0 // where the number starts in p: after the sign
		if u>>63 != 0 {
			p[0] = '-'
			o = 1
			u &^= 1 << 63
		}
		if u == 0 {
			p[o] = '0'
			pos += o + 1
			continue
		}
		d, e := shortestDecimal(u)
		// The value is 0.ddd × 10^dp, d's trailing zeros included.
		dp := decimalLen(d) + e
		switch {
		case dp < -5 || dp > 21: // |f| < 1e-6 or >= 1e21: d.ddde±x
			// The digits one byte on, then the first moved before the
			// point.
			n, tz := formatDigits(p[o+1:], d)
			n -= tz
			p[o] = p[o+1]
			end := o + 1
			if n > 1 {
				p[o+1] = '.'
				end += n
			}
			pos += end + putExp(p[end:], dp-1)
			continue
		case dp <= 0: // 0.000ddd, at most 5 zeros
			binary.LittleEndian.PutUint64(p[o:], zeroPoint)
			n, tz := formatDigits(p[o+2-dp:], d)
			pos += o + 2 - dp + n - tz
			continue
		}
		n, tz := formatDigits(p[o:], d)
		n -= tz
		if dp >= n { // ddd000: d's trailing zeros, then up to 20 more
			binary.LittleEndian.PutUint64(p[o+n:], ascii0)
			binary.LittleEndian.PutUint64(p[o+n+8:], ascii0)
			binary.LittleEndian.PutUint64(p[o+n+16:], ascii0)
			pos += o + dp
			continue
		}
		// dd.ddd: the fraction (at most 16 digits, as dp >= 1) moved one
		// byte on, both words loaded before either is stored.
		w0 := binary.LittleEndian.Uint64(p[o+dp:])
		w1 := binary.LittleEndian.Uint64(p[o+dp+8:])
		binary.LittleEndian.PutUint64(p[o+dp+1:], w0)
		binary.LittleEndian.PutUint64(p[o+dp+9:], w1)
		p[o+dp] = '.'
		pos += o + n + 1
	}
	return pos
}

// zeroPoint is "0.000000" as a little-endian word.
const zeroPoint = 0x30303030_30302e30

// putExp writes the exponent e±x at the start of p (5 bytes at most), as
// encoding/json writes it (e-7, not e-07), and returns its length.
func putExp(p []byte, x int) int {
	_ = p[4]
	p[0], p[1] = 'e', '+'
	if x < 0 {
		p[1] = '-'
		x = -x
	}
	switch {
	case x >= 100:
		p[2] = byte('0' + x/100)
		x %= 100
		p[3], p[4] = digitPairs[2*x], digitPairs[2*x+1]
		return 5
	case x >= 10:
		p[2], p[3] = digitPairs[2*x], digitPairs[2*x+1]
		return 4
	}
	p[2] = byte('0' + x)
	return 3
}

// digitPairs holds "00" to "99", for exponents and times.
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

// formatDigits writes d's n decimal digits (0 < d < 10^24) at the start
// of p and returns n and how many of them are trailing zeros (fewer than
// n). It converts 8 digits at a time in a word (SWAR: eight lanes of one
// byte) and stores words, not bytes: it writes up to 24 bytes of p, past
// the digits too.
func formatDigits(p []byte, d uint64) (n, tz int) {
	_ = p[23]
	if d < 1e8 {
		w := digits8(uint32(d))
		n = decimalLen(d)
		tz = bits.LeadingZeros64(w) / 8
		// The word's low bytes are the zero padding: shifted out.
		binary.LittleEndian.PutUint64(p, w>>((64-8*n)&63)|ascii0)
		return n, min(tz, n-1)
	}
	hi, lo := d/1e8, uint32(d%1e8)
	wl := digits8(lo)
	tz = bits.LeadingZeros64(wl) / 8
	if hi < 1e8 {
		wh := digits8(uint32(hi))
		nh := decimalLen(hi)
		binary.LittleEndian.PutUint64(p, wh>>((64-8*nh)&63)|ascii0)
		binary.LittleEndian.PutUint64(p[nh:], wl|ascii0)
		if tz == 8 {
			tz += bits.LeadingZeros64(wh) / 8
		}
		return nh + 8, tz
	}
	top, mid := hi/1e8, uint32(hi%1e8)
	wm := digits8(mid)
	nt := 1
	if top < 10 {
		// The usual 17 digits: the first is one byte, not a word.
		p[0] = byte('0' + top)
	} else {
		nt = decimalLen(top)
		binary.LittleEndian.PutUint64(p, digits8(uint32(top))>>((64-8*nt)&63)|ascii0)
	}
	binary.LittleEndian.PutUint64(p[nt:], wm|ascii0)
	binary.LittleEndian.PutUint64(p[nt+8:], wl|ascii0)
	if tz == 8 {
		tz += bits.LeadingZeros64(wm) / 8
		// A nonzero top word ends the zeros: 16 at most.
	}
	return nt + 16, tz
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
	// h is 1 to 4; the mask tells the compiler that the shifts are below
	// 64, which it would otherwise check for each.
	h := (q + flog2pow10(-k) + 1) & 63
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
			// Which of the two depends on the value's last digits, as
			// random as the value: a conditional move, not a branch that
			// mispredicts half the time.
			d = tp10
			if upin {
				d = sp10
			}
			return d, k
		}
	}
	tt := s + 1
	uin := vbl <= s<<2
	win := tt<<2 <= vbr
	if uin != win {
		d = tt
		if uin {
			d = s
		}
		return d, k
	}
	// Both in range: the closer, ties to even.
	mid := (s + tt) << 1
	closer := vb < mid
	if vb == mid {
		closer = s&1 == 0
	}
	d = tt
	if closer {
		d = s
	}
	return d, k
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
