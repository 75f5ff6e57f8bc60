package backfill

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/internal/pqschema"
)

// chunkWriter writes the training set when each output row group can be
// one spine row group: the spine's column chunks are copied byte for byte
// (their pages need no decoding, re-encoding or recompression), and the
// feature columns are encoded straight from their typed columns into
// PLAIN data pages (definition levels are the validity bitmap, as one
// bit-packed run), compressed with zstd. The footer is written last; the
// file is renamed into place only on success.
//
// Workers encode feature columns in parallel (encodeColumn); one goroutine
// appends row groups in order (writeRowGroup).
type chunkWriter struct {
	out, tmp string
	f        *os.File
	w        *bufio.Writer
	off      int64
	synced   int64 // bytes whose writeback has been started
	meta     format.FileMetaData
	codec    *zstd.Codec
	// types and names of the feature columns, in order.
	types []format.Type
	names []string
	// leaves are the spine's leaf columns copied, in order.
	leaves []int
}

// rawChunkable reports whether the spine's row groups can be copied as
// they are: none larger than the output's row groups, no encryption, no
// column chunk stored in another file.
func rawChunkable(files []*parquet.File, rowGroupSize int64) bool {
	for _, f := range files {
		m := f.Metadata()
		if m.EncryptionAlgorithm.Value != nil || len(m.FooterSigningKeyMetadata) > 0 {
			return false
		}
		for _, rg := range m.RowGroups {
			if rg.NumRows > rowGroupSize {
				return false
			}
			for _, c := range rg.Columns {
				if c.FilePath != "" || c.CryptoMetadata.Value != nil || len(c.EncryptedColumnMetadata) > 0 {
					return false
				}
			}
		}
	}
	return true
}

func newChunkWriter(out string, spine *parquet.File, keep *spineCols, features []def.Field, kv map[string]string) (*chunkWriter, error) {
	// The feature columns' schema elements, as parquet-go writes them for
	// the nodes the row-by-row writer uses.
	var fields []parquet.Field
	for _, f := range features {
		fields = append(fields, pqschema.Named(f.Name, featureNode(f.Type)))
	}
	var buf bytes.Buffer
	pw := parquet.NewGenericWriter[any](&buf, parquet.NewSchema("training_set", pqschema.Ordered(fields)))
	if err := pw.Close(); err != nil {
		return nil, fmt.Errorf("backfill: cannot build output schema: %w", err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return nil, fmt.Errorf("backfill: cannot build output schema: %w", err)
	}
	featSchema := pf.Metadata().Schema[1:]
	spineSchema := spine.Metadata().Schema
	root := spineSchema[0]
	root.Name = "training_set"
	root.NumChildren = thrift.New(int32(len(keep.fields) + len(features)))
	w := &chunkWriter{out: out, codec: &zstd.Codec{Level: zstd.SpeedFastest}, leaves: keep.leaves}
	w.meta = format.FileMetaData{Version: 1, CreatedBy: "fstore"}
	w.meta.Schema = append(w.meta.Schema, root)
	w.meta.Schema = append(w.meta.Schema, keep.schema(spineSchema[1:])...)
	w.meta.Schema = append(w.meta.Schema, featSchema...)
	for _, e := range featSchema {
		w.types = append(w.types, e.Type.V)
		w.names = append(w.names, e.Name)
	}
	for k, v := range kv {
		w.meta.KeyValueMetadata = append(w.meta.KeyValueMetadata, format.KeyValue{Key: k, Value: v})
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("backfill: cannot create output: %w", err)
	}
	w.f, w.tmp, w.w = f, f.Name(), bufio.NewWriterSize(f, 1<<20)
	if err := w.write([]byte("PAR1")); err != nil {
		w.abort()
		return nil, err
	}
	return w, nil
}

func (w *chunkWriter) write(b []byte) error {
	n, err := w.w.Write(b)
	w.off += int64(n)
	if err != nil {
		return fmt.Errorf("backfill: cannot write output: %w", err)
	}
	return nil
}

// encodedColumn is one feature column of one row group, encoded: its
// pages, headers included.
type encodedColumn struct {
	data                []byte
	uncompressed, nulls int64
}

// pageRows bounds a page's rows; pages of variable-width values also end
// once their values pass pageBytes. Both keep pages to a size readers
// handle well; rows stay a multiple of 64 so that a page's definition
// levels are whole words of the validity bitmap.
const (
	pageRows  = 64 << 10
	pageBytes = 1 << 20
)

// encodeScratch is a worker's reusable memory for encodeColumn.
type encodeScratch struct{ body, packed []byte }

// encodeColumn encodes rows [0, n) of c into data pages appended to
// dst[:0]. scratch is reused.
func (w *chunkWriter) encodeColumn(c *compute.Column, n int, dst []byte, sc *encodeScratch) (encodedColumn, error) {
	e := encodedColumn{data: dst[:0]}
	for lo := 0; lo < n; {
		hi := pageEnd(c, lo, n)
		m := hi - lo
		body := sc.body[:0]
		// Definition levels: a 4-byte length, then one bit-packed run of
		// ceil(m/8) groups of 8 levels (LSB first): the validity bitmap's
		// bytes, little-endian words, from the page's first row (a
		// multiple of 64). Bits past the page's last row are padding.
		groups := (m + 7) / 8
		var hdr [binary.MaxVarintLen64]byte
		hn := binary.PutUvarint(hdr[:], uint64(groups)<<1|1)
		body = binary.LittleEndian.AppendUint32(body, uint32(hn+groups))
		body = append(body, hdr[:hn]...)
		for i := 0; i < groups; i += 8 {
			word := ^uint64(0)
			if c.Valid != nil {
				word = c.Valid[(lo+i*8)/64]
			}
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], word)
			body = append(body, b[:min(8, groups-i)]...)
		}
		nulls := 0
		switch c.Type {
		case def.Int64, def.Timestamp:
			for r := lo; r < hi; r++ {
				if c.Null(r) {
					nulls++
				} else {
					body = binary.LittleEndian.AppendUint64(body, uint64(c.I64[r]))
				}
			}
		case def.Double:
			for r := lo; r < hi; r++ {
				if c.Null(r) {
					nulls++
				} else {
					body = binary.LittleEndian.AppendUint64(body, math.Float64bits(c.F64[r]))
				}
			}
		case def.Bool:
			var bits byte
			k := 0
			for r := lo; r < hi; r++ {
				if c.Null(r) {
					nulls++
					continue
				}
				if c.B[r] {
					bits |= 1 << k
				}
				if k++; k == 8 {
					body = append(body, bits)
					bits, k = 0, 0
				}
			}
			if k > 0 {
				body = append(body, bits)
			}
		case def.String:
			for r := lo; r < hi; r++ {
				if c.Null(r) {
					nulls++
				} else {
					body = binary.LittleEndian.AppendUint32(body, uint32(len(c.S[r])))
					body = append(body, c.S[r]...)
				}
			}
		}
		sc.body = body
		compressed, err := w.codec.Encode(sc.packed[:0], body)
		if err != nil {
			return e, fmt.Errorf("backfill: cannot compress output: %w", err)
		}
		sc.packed = compressed
		ph := format.PageHeader{
			Type:                 format.DataPage,
			UncompressedPageSize: int32(len(body)),
			CompressedPageSize:   int32(len(compressed)),
			DataPageHeader: thrift.New(format.DataPageHeader{
				NumValues:               int32(m),
				Encoding:                format.Plain,
				DefinitionLevelEncoding: format.RLE,
				RepetitionLevelEncoding: format.RLE,
				Statistics:              format.Statistics{NullCount: int64(nulls)},
			}),
		}
		h, err := thrift.Marshal(new(thrift.CompactProtocol), &ph)
		if err != nil {
			return e, fmt.Errorf("backfill: cannot encode output page header: %w", err)
		}
		e.data = append(e.data, h...)
		e.data = append(e.data, compressed...)
		e.uncompressed += int64(len(h) + len(body))
		e.nulls += int64(nulls)
		lo = hi
	}
	return e, nil
}

// pageEnd returns the end of the page that starts at row lo (a multiple
// of 64): pageRows rows, or fewer when string values pass pageBytes
// (cut at a multiple of 64 rows), or the column's end.
func pageEnd(c *compute.Column, lo, n int) int {
	hi := min(n, lo+pageRows)
	if c.Type != def.String {
		return hi
	}
	bytes := 0
	for r := lo; r < hi; r++ {
		if !c.Null(r) {
			bytes += 4 + len(c.S[r])
		}
		if bytes >= pageBytes && (r+1-lo)%64 == 0 {
			return r + 1
		}
	}
	return hi
}

// writeRowGroup appends one row group: spine row group rg of spine, its
// kept column chunks copied, then the encoded feature columns.
func (w *chunkWriter) writeRowGroup(spine *parquet.File, rg int, cols []encodedColumn) error {
	src := spine.Metadata().RowGroups[rg]
	if src.NumRows == 0 {
		return nil // as parquet-go's writer, no empty row groups
	}
	out := format.RowGroup{NumRows: src.NumRows, FileOffset: w.off, Ordinal: int16(len(w.meta.RowGroups))}
	for _, leaf := range w.leaves {
		md := src.Columns[leaf].MetaData
		start := md.DataPageOffset
		if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
			start = md.DictionaryPageOffset
		}
		if md.IndexPageOffset > 0 && md.IndexPageOffset < start {
			start = md.IndexPageOffset
		}
		delta := w.off - start
		if _, err := io.Copy(w.w, io.NewSectionReader(spine, start, md.TotalCompressedSize)); err != nil {
			return fmt.Errorf("backfill: cannot copy spine column %v: %w", md.PathInSchema, err)
		}
		w.off += md.TotalCompressedSize
		md.DataPageOffset += delta
		if md.DictionaryPageOffset > 0 {
			md.DictionaryPageOffset += delta
		}
		if md.IndexPageOffset > 0 {
			md.IndexPageOffset += delta
		}
		// Bloom filters and page indexes are not copied.
		md.BloomFilterOffset, md.BloomFilterLength = 0, 0
		out.Columns = append(out.Columns, format.ColumnChunk{FileOffset: start + delta, MetaData: md})
		out.TotalByteSize += md.TotalUncompressedSize
		out.TotalCompressedSize += md.TotalCompressedSize
	}
	for k, e := range cols {
		start := w.off
		if err := w.write(e.data); err != nil {
			return err
		}
		md := format.ColumnMetaData{
			Type:                  w.types[k],
			Encoding:              []format.Encoding{format.Plain, format.RLE},
			PathInSchema:          []string{w.names[k]},
			Codec:                 format.Zstd,
			NumValues:             src.NumRows,
			TotalUncompressedSize: e.uncompressed,
			TotalCompressedSize:   int64(len(e.data)),
			DataPageOffset:        start,
			Statistics:            format.Statistics{NullCount: e.nulls},
		}
		out.Columns = append(out.Columns, format.ColumnChunk{FileOffset: start, MetaData: md})
		out.TotalByteSize += e.uncompressed
		out.TotalCompressedSize += int64(len(e.data))
	}
	w.meta.RowGroups = append(w.meta.RowGroups, out)
	w.meta.NumRows += src.NumRows
	if written := w.off - int64(w.w.Buffered()); written-w.synced >= writebackBytes {
		startWriteback(w.f, w.synced, written-w.synced)
		w.synced = written
	}
	return nil
}

// writebackBytes is how much written output waits before its writeback
// is started (see startWriteback).
const writebackBytes = 4 << 20

// commit writes the footer, syncs the file and renames it into place.
func (w *chunkWriter) commit() error {
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &w.meta)
	if err != nil {
		w.abort()
		return fmt.Errorf("backfill: cannot encode output footer: %w", err)
	}
	footer = binary.LittleEndian.AppendUint32(footer, uint32(len(footer)))
	footer = append(footer, "PAR1"...)
	if err := w.write(footer); err != nil {
		w.abort()
		return err
	}
	if err := w.w.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("backfill: cannot write output: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		w.abort()
		return fmt.Errorf("backfill: cannot write output: %w", err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("backfill: cannot write output: %w", err)
	}
	if err := os.Rename(w.tmp, w.out); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("backfill: cannot move output into place: %w", err)
	}
	return nil
}

// abort removes the temporary file; the output path is left untouched.
func (w *chunkWriter) abort() {
	w.f.Close()
	os.Remove(w.tmp)
}
