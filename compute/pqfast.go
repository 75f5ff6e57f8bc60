package compute

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/fstore/fstore/featurestore/def"
)

// fastRead turns readPlain on; tests turn it off to compare the two paths.
var fastRead = true

// chunkBufs holds the buffers readPlain reads column chunks into.
var chunkBufs = sync.Pool{New: func() any { return new([]byte) }}

// readPlain reads column pc of row group rg, n rows, into c, for the
// commonest shape of a numeric column: flat, INT64 or DOUBLE, PLAIN pages
// (v1 or v2) without nulls. The chunk is read with one call, and each
// page's values are decompressed straight into c's values, where the
// general path copies them three times more (into a page buffer, a decoded
// page and the column). It reports false, having set no validity bit, when
// the chunk does not have that shape or anything about it is unexpected;
// the caller then reads it through parquet-go, which also reports any
// corruption the precise way. c must hold n rows, every one valid.
func (p *ParquetFile) readPlain(rg int, pc pqCol, c *Column, n int) bool {
	if !fastRead || pc.maxRep != 0 || pc.maxDef > 1 || n == 0 {
		return false
	}
	meta := p.File.Metadata()
	if meta.EncryptionAlgorithm.Value != nil || rg >= len(meta.RowGroups) || pc.leaf >= len(meta.RowGroups[rg].Columns) {
		return false
	}
	cc := &meta.RowGroups[rg].Columns[pc.leaf]
	md := &cc.MetaData
	if cc.FilePath != "" || cc.CryptoMetadata.Value != nil || len(cc.EncryptedColumnMetadata) > 0 {
		return false
	}
	var dst []byte // c's values as bytes
	switch {
	case (pc.typ == def.Int64 || pc.typ == def.Timestamp) && md.Type == format.Int64:
		dst = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(c.I64))), n*8)
	case pc.typ == def.Double && md.Type == format.Double:
		dst = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(c.F64))), n*8)
	default:
		return false
	}
	// The chunk must lie inside the file: a corrupt length must not size
	// the buffer below.
	if md.NumValues != int64(n) || md.DictionaryPageOffset > 0 || md.TotalCompressedSize <= 0 || md.DataPageOffset < 0 ||
		md.TotalCompressedSize > p.Size-md.DataPageOffset || md.TotalCompressedSize > 1<<31 {
		return false
	}
	compressed := md.Codec != format.Uncompressed
	if compressed && md.Codec != format.Snappy && md.Codec != format.Zstd {
		return false
	}
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	size := int(md.TotalCompressedSize)
	if cap(*bp) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	if _, err := p.f.ReadAt(buf, md.DataPageOffset); err != nil {
		return false
	}
	var scratch []byte // a v1 page with levels, decompressed
	r := bytes.NewReader(nil)
	dec := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r))
	at := 0 // bytes of dst filled
	for off := 0; at < len(dst); {
		if off >= len(buf) {
			return false
		}
		hlen, ok := thriftStructLen(buf[off:])
		if !ok {
			return false
		}
		r.Reset(buf[off : off+hlen])
		var h format.PageHeader
		if err := dec.Decode(&h); err != nil || r.Len() != 0 {
			return false
		}
		off += hlen
		size := int(h.CompressedPageSize)
		if size < 0 || size > len(buf)-off {
			return false
		}
		body := buf[off : off+size]
		off += size
		if h.CRC != 0 && crc32.ChecksumIEEE(body) != uint32(h.CRC) {
			return false
		}
		switch {
		case h.Type == format.DataPageV2 && h.DataPageHeaderV2.Valid:
			v := &h.DataPageHeaderV2.V
			levels := int(v.RepetitionLevelsByteLength) + int(v.DefinitionLevelsByteLength)
			if v.Encoding != format.Plain || v.NumNulls != 0 || v.NumValues <= 0 || v.NumRows != v.NumValues ||
				v.RepetitionLevelsByteLength < 0 || v.DefinitionLevelsByteLength < 0 || levels > len(body) {
				return false
			}
			want := int(v.NumValues) * 8
			if want > len(dst)-at {
				return false
			}
			vals := body[levels:]
			if compressed && (!v.IsCompressed.Valid || v.IsCompressed.V) {
				if !decodeInto(md.Codec, dst[at:at+want], vals) {
					return false
				}
			} else if len(vals) != want {
				return false
			} else {
				copy(dst[at:], vals)
			}
			at += want
		case h.Type == format.DataPage && h.DataPageHeader.Valid:
			v := &h.DataPageHeader.V
			if v.Encoding != format.Plain || v.NumValues <= 0 {
				return false
			}
			want := int(v.NumValues) * 8
			if want > len(dst)-at {
				return false
			}
			if pc.maxDef == 0 {
				// Values alone: straight into c.
				if compressed {
					if !decodeInto(md.Codec, dst[at:at+want], body) {
						return false
					}
				} else if len(body) != want {
					return false
				} else {
					copy(dst[at:], body)
				}
				at += want
				continue
			}
			page := body
			if compressed {
				// Levels and values: the page header says how long,
				// and the stream must declare the same. All-defined
				// levels are a few bytes of RLE runs.
				size := int(h.UncompressedPageSize)
				if size < want || size > want+1<<16 {
					return false
				}
				if cap(scratch) < size {
					scratch = make([]byte, size)
				}
				scratch = scratch[:size]
				if !decodeInto(md.Codec, scratch, body) {
					return false
				}
				page = scratch
			}
			vals, ok := skipAllDefined(page, int(v.NumValues))
			if !ok || len(vals) != want {
				return false
			}
			copy(dst[at:], vals)
			at += want
		default:
			return false // a dictionary, an index page, or what this path does not know
		}
	}
	if md.Type == format.Int64 {
		convertUnit(c.I64[:n], pc.unit)
	}
	return true
}

// decodeInto decompresses src into dst, which it must fill exactly. It
// decodes only a stream that declares exactly len(dst) bytes up front: a
// Snappy block whose length header says so, or one zstd frame whose
// content size says so and whose blocks end where src ends. Decoders size
// their output from those declarations, so a corrupt or hostile page that
// declares gigabytes would otherwise be allocated them; here it is handed
// to the general path, which reports it. Other codecs take the general
// path too.
func decodeInto(codec format.CompressionCodec, dst, src []byte) bool {
	switch codec {
	case format.Snappy:
		if n, err := snappy.DecodedLen(src); err != nil || n != len(dst) {
			return false
		}
		out, err := snappy.Decode(dst, src) // into dst: its length is the decoded length
		return err == nil && len(out) == len(dst) && unsafe.SliceData(out) == unsafe.SliceData(dst)
	case format.Zstd:
		if !zstdOneFrameOf(src, len(dst)) {
			return false
		}
		out, err := zstdCodec.Decode(dst[:0], src)
		if err != nil || len(out) != len(dst) {
			return false
		}
		if unsafe.SliceData(out) != unsafe.SliceData(dst) {
			copy(dst, out)
		}
		return true
	}
	return false
}

// zstdCodec is parquet-go's zstd codec, whose pooled decoders decodeInto
// uses once a frame is checked.
var zstdCodec = parquet.LookupCompressionCodec(format.Zstd)

// zstdOneFrameOf reports whether src is exactly one zstd frame declaring
// n bytes of content: its header's content size is n, and walking its
// block headers (3 bytes each: last flag, type, size) ends, after the
// optional 4-byte checksum, at the end of src.
func zstdOneFrameOf(src []byte, n int) bool {
	var h zstd.Header
	rest, err := h.DecodeAndStrip(src)
	if err != nil || h.Skippable || !h.HasFCS || h.FrameContentSize != uint64(n) || h.DictionaryID != 0 {
		return false
	}
	for {
		if len(rest) < 3 {
			return false
		}
		bh := uint32(rest[0]) | uint32(rest[1])<<8 | uint32(rest[2])<<16
		rest = rest[3:]
		size := int(bh >> 3)
		switch (bh >> 1) & 3 {
		case 0, 2: // raw, compressed: size bytes follow
		case 1: // RLE: one byte follows
			size = 1
		default:
			return false // reserved
		}
		if size > len(rest) {
			return false
		}
		rest = rest[size:]
		if bh&1 != 0 {
			break
		}
	}
	if h.HasCheckSum {
		if len(rest) < 4 {
			return false
		}
		rest = rest[4:]
	}
	return len(rest) == 0
}

// skipAllDefined returns the values of a v1 page of a column with maximum
// definition level 1, given that its n definition levels (a 4-byte length,
// then RLE/bit-packed hybrid runs of width 1) are all 1; ok is false when
// they are not, or are not only RLE runs of ones.
func skipAllDefined(page []byte, n int) ([]byte, bool) {
	if len(page) < 4 {
		return nil, false
	}
	size := int(binary.LittleEndian.Uint32(page))
	if size < 0 || size > len(page)-4 {
		return nil, false
	}
	levels, rest := page[4:4+size], page[4+size:]
	seen := 0
	for len(levels) > 0 {
		hdr, k := binary.Uvarint(levels)
		if k <= 0 || hdr&1 != 0 || len(levels) < k+1 {
			return nil, false // bit-packed runs could hold a zero: take the general path
		}
		if levels[k] != 1 {
			return nil, false
		}
		seen += int(hdr >> 1)
		levels = levels[k+1:]
	}
	return rest, seen >= n
}

// convertUnit turns xs, timestamps in a unit ParquetColumn.Unit names,
// into microseconds (TimestampMicros on each).
func convertUnit(xs []int64, unit int) {
	if unit == 1 || unit == 0 {
		return
	}
	for i, x := range xs {
		xs[i] = TimestampMicros(x, unit)
	}
}

// TimestampMicros turns x, a timestamp in the unit ParquetColumn.Unit
// names (1000: milliseconds, -1000: nanoseconds, else microseconds), into
// microseconds, rounding nanoseconds down. It is the one conversion of
// Parquet timestamps: values as read and statistics compared with them go
// through it alike.
func TimestampMicros(x int64, unit int) int64 {
	switch unit {
	case 1000:
		return x * 1000
	case -1000:
		q := x / 1000
		if x%1000 < 0 {
			q--
		}
		return q
	}
	return x
}

// thriftStructLen walks one Thrift compact-protocol struct at the start
// of b without decoding it and returns its length, or false when it is
// malformed, nested deeper than 16, or declares a string, list or map
// longer than what is left of b. parquet-go's decoder allocates a
// declared length before reading it, so a page header that declares 2 GiB
// of statistics would be allocated them; readPlain hands its headers to
// that decoder only after this walk.
func thriftStructLen(b []byte) (int, bool) {
	w := thriftWalker{b: b}
	if !w.skipStruct(0) {
		return 0, false
	}
	return w.off, true
}

type thriftWalker struct {
	b   []byte
	off int
}

func (w *thriftWalker) byte1() (byte, bool) {
	if w.off >= len(w.b) {
		return 0, false
	}
	w.off++
	return w.b[w.off-1], true
}

func (w *thriftWalker) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(w.b[w.off:])
	if n <= 0 {
		return 0, false
	}
	w.off += n
	return v, true
}

// skipBytes skips n bytes, which must be there.
func (w *thriftWalker) skipBytes(n uint64) bool {
	if n > uint64(len(w.b)-w.off) {
		return false
	}
	w.off += int(n)
	return true
}

func (w *thriftWalker) skipStruct(depth int) bool {
	if depth > 16 {
		return false
	}
	for {
		h, ok := w.byte1()
		if !ok {
			return false
		}
		t := h & 0x0f
		if t == 0 { // stop
			return true
		}
		if h>>4 == 0 { // long form: the field id follows
			if _, ok := w.uvarint(); !ok {
				return false
			}
		}
		if !w.skipValue(t, depth, false) {
			return false
		}
	}
}

// skipValue skips a value of compact type t; inList says it is a list
// element, where booleans take a byte of their own.
func (w *thriftWalker) skipValue(t byte, depth int, inList bool) bool {
	switch t {
	case 1, 2: // booleans: in the field header, or a byte in a list
		if inList {
			_, ok := w.byte1()
			return ok
		}
		return true
	case 3: // byte
		_, ok := w.byte1()
		return ok
	case 4, 5, 6: // i16, i32, i64: varints
		_, ok := w.uvarint()
		return ok
	case 7: // double
		return w.skipBytes(8)
	case 8: // binary: length, bytes
		n, ok := w.uvarint()
		return ok && w.skipBytes(n)
	case 9, 10: // list, set: size and element type, elements
		h, ok := w.byte1()
		if !ok {
			return false
		}
		n := uint64(h >> 4)
		if n == 15 {
			if n, ok = w.uvarint(); !ok {
				return false
			}
		}
		if n > uint64(len(w.b)-w.off) { // every element takes a byte at least
			return false
		}
		for range n {
			if !w.skipValue(h&0x0f, depth+1, true) {
				return false
			}
		}
		return true
	case 11: // map: size, key and value types, pairs
		n, ok := w.uvarint()
		if !ok || n > uint64(len(w.b)-w.off) {
			return false
		}
		if n == 0 {
			return true
		}
		kv, ok := w.byte1()
		if !ok {
			return false
		}
		for range n {
			if !w.skipValue(kv>>4, depth+1, true) || !w.skipValue(kv&0x0f, depth+1, true) {
				return false
			}
		}
		return true
	case 12: // struct
		return w.skipStruct(depth + 1)
	}
	return false
}
