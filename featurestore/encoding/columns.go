package encoding

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// Selection is a read's choice of outputs compiled against one layout for
// DecodeColumns: the plain features to decode into columns, the
// aggregations whose tiles to keep, and the plan of the walk over a
// value's features. Build it once per read with Layout.Select; it is
// read-only afterwards and serves every value of the read.
//
// The plan groups the plain features into segments: each run of
// consecutive 8-byte features (INT64, TIMESTAMP, DOUBLE) is one segment,
// whose length the null bitmap gives without reading it, so that it is
// checked and stepped over at once and only its selected features are
// read; every BOOL or STRING feature is a segment of its own, read (or
// checked and skipped) as Decode reads it. A request for 10 of a view's
// 50 DOUBLE features then costs 10 loads a value, not 50 steps.
type Selection struct {
	layout *Layout
	// want is Select's want: by output, nil for all.
	want []bool
	segs []segment
	// feats holds the selected plain features in order; segment g's are
	// feats[g.flo:g.fhi].
	feats []int32
}

// segment is a run of plain features [lo, hi) walked as one step: fixed
// (8-byte features), or a single BOOL or STRING feature.
type segment struct {
	lo, hi   int32
	flo, fhi int32
	fixed    bool
}

// fixedWidth reports whether a non-null feature of type t takes 8 bytes.
func fixedWidth(t def.ValueType) bool {
	return t == def.Double || t == def.Int64 || t == def.Timestamp
}

// Select compiles want (by output, as DecodeColumns documents it: nil, or
// an entry per output; nil selects everything) for decoding values of
// layout l into s, reusing s's memory. want is kept, not copied: it must
// not change while s is used.
func (l *Layout) Select(want []bool, s *Selection) {
	s.layout, s.want = l, want
	s.segs, s.feats = s.segs[:0], s.feats[:0]
	for f, t := range l.Features {
		fixed := fixedWidth(t)
		if n := len(s.segs); !fixed || n == 0 || !s.segs[n-1].fixed {
			s.segs = append(s.segs, segment{lo: int32(f), flo: int32(len(s.feats)), fixed: fixed})
		}
		g := &s.segs[len(s.segs)-1]
		g.hi = int32(f + 1)
		if want == nil || want[f] {
			s.feats = append(s.feats, int32(f))
		}
		g.fhi = int32(len(s.feats))
	}
}

// DecodeColumns decodes b, written with layout l, for a read: the header
// and the tiles into v as Decode does, but each plain feature f straight
// into row i of cols[f] — its value, and its validity bit, set or cleared
// by its null bit — leaving v.Features empty. Reading a row's features
// into columns instead of Scalars halves the work of a wide read.
//
// s, built by l.Select, selects by output: want[f] for plain feature f,
// want[len(Features)+a] for aggregation a. Features and tiles not
// selected are checked as Decode checks them, and give the same errors,
// but are not stored: their columns are not touched and their v.Tiles
// are empty. cols[f] of every selected feature must have type
// l.Features[f], a bitmap (compute.Column.ResetBitmap) and more than i
// rows. Without a row (v.HasRow false), cols are not touched. On an
// error, selected cols may have been written at row i.
func (l *Layout) DecodeColumns(b []byte, v *Value, s *Selection, cols []compute.Column, i int) error {
	if s.layout != l {
		return fmt.Errorf("encoding: DecodeColumns with a Selection built for another layout")
	}
	r := reader{b: b}
	if err := l.decodeHeader(&r, v); err != nil {
		return err
	}
	v.Features = v.Features[:0]
	if v.HasRow && r.err == nil {
		nulls := l.nullBitmap(&r)
		dense := allZero(nulls)
		for k := range s.segs {
			if r.err != nil {
				break
			}
			g := &s.segs[k]
			if g.fixed {
				decodeFixed(&r, g, s.feats[g.flo:g.fhi], nulls, dense, cols, i)
				continue
			}
			f := int(g.lo)
			t := l.Features[f]
			null := nulls[f>>3]&(1<<(f&7)) != 0
			if g.flo == g.fhi {
				if !null {
					r.skipScalar(t, "feature")
				}
				continue
			}
			c := &cols[f]
			if null {
				c.Valid.Clear(i)
				continue
			}
			sc := r.scalar(t, "feature")
			switch t {
			case def.Bool:
				c.B[i] = sc.B
			case def.String:
				c.S[i] = sc.S
			}
			c.Valid.Set(i)
		}
	}
	return l.decodeTiles(&r, v, s.want)
}

// decodeFixed checks and steps over the fixed segment g, storing its
// selected features feats into row i of their columns. Its non-null
// features take 8 bytes each, in feature order, so one length check
// covers them all (failing as Decode fails on the first missing one), and
// a selected feature's value lies 8 bytes times the non-null features
// before it into the segment. dense says that the row has no nulls.
func decodeFixed(r *reader, g *segment, feats []int32, nulls []byte, dense bool, cols []compute.Column, i int) {
	lo, n := int(g.lo), int(g.hi-g.lo)
	if !dense {
		n -= onesIn(nulls, lo, int(g.hi))
		dense = n == int(g.hi-g.lo)
	}
	if len(r.b) < 8*n {
		r.fail("truncated feature")
		return
	}
	run := r.b[:8*n]
	r.b = r.b[8*n:]
	if dense {
		storeDense(run, feats, lo, cols, i)
		return
	}
	pos, at := lo, 0 // at: where feature pos's value is or would be
	for _, f32 := range feats {
		f := int(f32)
		at += 8 * (f - pos - onesIn(nulls, pos, f))
		pos = f
		c := &cols[f]
		if nulls[f>>3]&(1<<(f&7)) != 0 {
			c.Valid.Clear(i)
			continue
		}
		storeFixed(c, i, run[at:])
	}
}

// storeDense stores features feats of a fixed segment without nulls,
// starting at feature lo, from run into row i of their columns: the usual
// case, where feature f is at 8·(f-lo).
func storeDense(run []byte, feats []int32, lo int, cols []compute.Column, i int) {
	w, bit := i>>6, uint64(1)<<(i&63)
	for _, f := range feats {
		c := &cols[f]
		off := 8 * (int(f) - lo)
		x := binary.LittleEndian.Uint64(run[off : off+8])
		if c.Type == def.Double {
			c.F64[i] = math.Float64frombits(x)
		} else {
			c.I64[i] = int64(x)
		}
		c.Valid[w] |= bit
	}
}

// allZero reports whether every byte of m is zero.
func allZero(m []byte) bool {
	for len(m) >= 8 {
		if binary.LittleEndian.Uint64(m) != 0 {
			return false
		}
		m = m[8:]
	}
	var x byte
	for _, c := range m {
		x |= c
	}
	return x == 0
}

// storeFixed stores the 8-byte value at the start of b into row i of c
// and marks the row valid.
func storeFixed(c *compute.Column, i int, b []byte) {
	x := binary.LittleEndian.Uint64(b)
	if c.Type == def.Double {
		c.F64[i] = math.Float64frombits(x)
	} else {
		c.I64[i] = int64(x)
	}
	c.Valid.Set(i)
}

// onesIn returns the number of bits set in bits [a, b) of bitmap m (bit
// f in byte f/8, lowest first).
func onesIn(m []byte, a, b int) int {
	n := 0
	for a < b {
		x := m[a>>3] >> (a & 7)
		w := 8 - a&7
		if b-a < w {
			w = b - a
			x &= 1<<w - 1
		}
		n += bits.OnesCount8(x)
		a += w
	}
	return n
}
