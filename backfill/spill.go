package backfill

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// A spill record is a fixed layout of typed fields, written as: a null
// bitmap (one bit per field, ceil(n/8) bytes), then each non-null field:
// INT64 and TIMESTAMP as 8 bytes little-endian, DOUBLE as its 8 IEEE bytes,
// BOOL as one byte, STRING as a uvarint length and the bytes. Spill files
// live only for one run, so the format carries no version.

// maxSpillString bounds a string read from a spill file, so that a corrupt
// length cannot make the reader allocate without limit. Parquet pages are far
// smaller.
const maxSpillString = 1 << 30

type spillWriter struct {
	f      *os.File
	w      *bufio.Writer
	layout []def.ValueType
	buf    []byte
	n      int64
}

func newSpillWriter(path string, layout []def.ValueType, bufSize int) (*spillWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("backfill: cannot create spill file: %w", err)
	}
	return &spillWriter{f: f, w: bufio.NewWriterSize(f, bufSize), layout: layout}, nil
}

// write appends one record; vals[i] is row `row` of column i (nil columns
// are written as null).
func (s *spillWriter) write(cols []*compute.Column, row int) error {
	b := s.buf[:0]
	nb := (len(s.layout) + 7) / 8
	for i := 0; i < nb; i++ {
		b = append(b, 0)
	}
	for i, c := range cols {
		if c == nil || c.Null(row) {
			b[i/8] |= 1 << (i % 8)
			continue
		}
		switch s.layout[i] {
		case def.Int64, def.Timestamp:
			b = binary.LittleEndian.AppendUint64(b, uint64(c.I64[row]))
		case def.Double:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.F64[row]))
		case def.Bool:
			if c.B[row] {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case def.String:
			b = binary.AppendUvarint(b, uint64(len(c.S[row])))
			b = append(b, c.S[row]...)
		}
	}
	s.buf = b
	s.n++
	_, err := s.w.Write(b)
	return err
}

func (s *spillWriter) close() error {
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backfill: cannot write spill file: %w", err)
	}
	return nil
}

type spillReader struct {
	r      *bufio.Reader
	f      *os.File
	layout []def.ValueType
}

func openSpill(path string, layout []def.ValueType) (*spillReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backfill: cannot open spill file: %w", err)
	}
	return &spillReader{f: f, r: bufio.NewReaderSize(f, 64<<10), layout: layout}, nil
}

func (s *spillReader) close() { s.f.Close() }

// readInto appends the next record to cols (one per layout field) and
// returns io.EOF at the end.
func (s *spillReader) readInto(cols []*compute.Column) error {
	nb := (len(s.layout) + 7) / 8
	var nulls [8]byte
	var nullBuf []byte
	if nb <= len(nulls) {
		nullBuf = nulls[:nb]
	} else {
		nullBuf = make([]byte, nb)
	}
	if _, err := io.ReadFull(s.r, nullBuf); err != nil {
		if err == io.ErrUnexpectedEOF {
			return fmt.Errorf("backfill: truncated spill record")
		}
		return err
	}
	var word [8]byte
	for i, t := range s.layout {
		c := cols[i]
		row := c.Len
		c.Type = t
		c.AppendZero()
		if nullBuf[i/8]&(1<<(i%8)) != 0 {
			c.Valid.Clear(row)
			continue
		}
		switch t {
		case def.Int64, def.Timestamp:
			if _, err := io.ReadFull(s.r, word[:]); err != nil {
				return truncated(err)
			}
			c.I64[row] = int64(binary.LittleEndian.Uint64(word[:]))
		case def.Double:
			if _, err := io.ReadFull(s.r, word[:]); err != nil {
				return truncated(err)
			}
			c.F64[row] = math.Float64frombits(binary.LittleEndian.Uint64(word[:]))
		case def.Bool:
			v, err := s.r.ReadByte()
			if err != nil {
				return truncated(err)
			}
			c.B[row] = v == 1
		case def.String:
			n, err := binary.ReadUvarint(s.r)
			if err != nil {
				return truncated(err)
			}
			if n > maxSpillString {
				return fmt.Errorf("backfill: corrupt spill record: string of %d bytes", n)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(s.r, b); err != nil {
				return truncated(err)
			}
			c.S[row] = string(b)
		}
	}
	return nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("backfill: truncated spill record")
	}
	return err
}

// decodeSpill appends every record of data to cols (one per layout field).
// Partitions are sized to fit in memory, so a whole spill file is read at
// once and decoded without per-field reads.
func decodeSpill(data []byte, layout []def.ValueType, cols []*compute.Column) error {
	nb := (len(layout) + 7) / 8
	fixed := nb
	for _, t := range layout {
		switch t {
		case def.Bool:
			fixed++
		case def.String:
			fixed += 1
		default:
			fixed += 8
		}
	}
	// Pre-size: at most len(data)/nb records, usually about len/fixed.
	est := len(data)/max(fixed, 1) + 1
	for i, t := range layout {
		c := cols[i]
		c.Type = t
		switch t {
		case def.Int64, def.Timestamp:
			c.I64 = slices.Grow(c.I64, est)
		case def.Double:
			c.F64 = slices.Grow(c.F64, est)
		case def.Bool:
			c.B = slices.Grow(c.B, est)
		case def.String:
			c.S = slices.Grow(c.S, est)
		}
		c.Valid = slices.Grow(c.Valid, est/64+1)
	}
	for off := 0; off < len(data); {
		if off+nb > len(data) {
			return fmt.Errorf("backfill: truncated spill record")
		}
		nulls := data[off : off+nb]
		off += nb
		for i, t := range layout {
			c := cols[i]
			row := c.Len
			c.Type = t
			c.AppendZero()
			if nulls[i/8]&(1<<(i%8)) != 0 {
				c.Valid.Clear(row)
				continue
			}
			switch t {
			case def.Int64, def.Timestamp:
				if off+8 > len(data) {
					return fmt.Errorf("backfill: truncated spill record")
				}
				c.I64[row] = int64(binary.LittleEndian.Uint64(data[off:]))
				off += 8
			case def.Double:
				if off+8 > len(data) {
					return fmt.Errorf("backfill: truncated spill record")
				}
				c.F64[row] = math.Float64frombits(binary.LittleEndian.Uint64(data[off:]))
				off += 8
			case def.Bool:
				if off >= len(data) {
					return fmt.Errorf("backfill: truncated spill record")
				}
				c.B[row] = data[off] == 1
				off++
			case def.String:
				n, k := binary.Uvarint(data[off:])
				// Compare in uint64: a corrupt length must not wrap.
				if k <= 0 || n > uint64(len(data)-off-k) {
					return fmt.Errorf("backfill: truncated spill record")
				}
				off += k
				c.S[row] = string(data[off : off+int(n)])
				off += int(n)
			}
		}
	}
	return nil
}
