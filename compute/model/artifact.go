// The model artifact format, version 1.
//
// An artifact is one self-contained byte string: everything Engine needs to
// serve a model, nothing else (metrics and lineage live in the registry).
// All integers and floats are little-endian; floats are IEEE 754 binary32.
//
//	offset  size        field
//	0       8           magic "FSTMODEL"
//	8       2           format version, u16 = 1
//	10      1           task, u8: 1 binary, 2 regression
//	11      1           layer count L, u8: 1..MaxHidden+1 (hidden layers + output)
//	12      4           input count N, u32: 1..MaxInputs
//	16      …           N input names, each u16 byte length (1..MaxNameLen) then UTF-8 bytes
//	        4N          Mean, N × f32
//	        4N          Scale, N × f32 (finite, > 0)
//	        8L          layer shapes, L × (u32 In, u32 Out)
//	        …           per layer: W, In×Out × f32 row-major; then B, Out × f32
//	        4           CRC-32C (Castagnoli) of every byte before it, u32
//
// The architecture is implied by the shapes: the hidden widths are the Out
// of every layer but the last, whose Out is 1. Layer 1's In is N and each
// later In equals the previous Out. Every float is finite.
//
// Unmarshal checks the magic and version first, then the layout (each
// length is checked against the bytes that remain before anything is
// allocated, so a lying header cannot make it allocate more than the input's
// size), then the checksum, then the values. A new format gets a new
// version number; a build reads only the versions it knows.
package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"strings"

	"github.com/fstore/fstore/internal/atomicfile"
)

// Magic opens every model artifact.
const Magic = "FSTMODEL"

// FormatVersion is the artifact format version this build writes and reads.
const FormatVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes m as a version-1 artifact. It fails, matching
// ErrInput, when m is not a valid model.
func (m *Model) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(nil)
}

// AppendBinary appends m's artifact encoding to dst.
func (m *Model) AppendBinary(dst []byte) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, Magic...)
	dst = binary.LittleEndian.AppendUint16(dst, FormatVersion)
	dst = append(dst, byte(m.Task), byte(len(m.Layers)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(m.Inputs)))
	for _, name := range m.Inputs {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(name)))
		dst = append(dst, name...)
	}
	dst = appendFloats(dst, m.Mean)
	dst = appendFloats(dst, m.Scale)
	for _, l := range m.Layers {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(l.In))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(l.Out))
	}
	for _, l := range m.Layers {
		dst = appendFloats(dst, l.W)
		dst = appendFloats(dst, l.B)
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

func appendFloats(dst []byte, fs []float32) []byte {
	for _, f := range fs {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
	}
	return dst
}

// decoder reads an artifact front to back, checking every length against
// what remains.
type decoder struct {
	data []byte
	off  int
}

func (d *decoder) need(n int, what string) error {
	if have := len(d.data) - d.off; n > have {
		return artifactErrorf("truncated at byte %d (%s, want %d bytes, have %d)", d.off, what, n, have)
	}
	return nil
}

func (d *decoder) u8() byte {
	v := d.data[d.off]
	d.off++
	return v
}

func (d *decoder) u16() int {
	v := binary.LittleEndian.Uint16(d.data[d.off:])
	d.off += 2
	return int(v)
}

func (d *decoder) u32() int {
	v := binary.LittleEndian.Uint32(d.data[d.off:])
	d.off += 4
	return int(v)
}

func (d *decoder) floats(n int, what string) ([]float32, error) {
	if err := d.need(4*n, what); err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d.data[d.off:]))
		d.off += 4
	}
	return out, nil
}

// Unmarshal decodes and validates an artifact. The Model does not alias
// data. Errors match ErrArtifact and say what is wrong and where.
func Unmarshal(data []byte) (*Model, error) {
	d := &decoder{data: data}
	if len(data) < len(Magic) || !bytes.Equal(data[:len(Magic)], []byte(Magic)) {
		n := min(len(data), len(Magic))
		return nil, artifactErrorf("not a model artifact (starts %q, want %q)", data[:n], Magic)
	}
	d.off = len(Magic)
	if err := d.need(2, "format version"); err != nil {
		return nil, err
	}
	if v := d.u16(); v != FormatVersion {
		return nil, artifactErrorf("unsupported format version %d (this build reads %d)", v, FormatVersion)
	}
	if err := d.need(6, "header"); err != nil {
		return nil, err
	}
	m := &Model{Task: Task(d.u8())}
	if m.Task != Binary && m.Task != Regression {
		return nil, artifactErrorf("unknown task %d at byte 10 (want 1 binary or 2 regression)", uint8(m.Task))
	}
	nl := int(d.u8())
	if nl < 1 || nl > MaxHidden+1 {
		return nil, artifactErrorf("layer count %d at byte 11, want 1..%d", nl, MaxHidden+1)
	}
	n := d.u32()
	if n < 1 || n > MaxInputs {
		return nil, artifactErrorf("input count %d at byte 12, want 1..%d", n, MaxInputs)
	}
	// Each input takes at least 2 (name length) + 1 (name) + 8 (mean and
	// scale) bytes; refuse a count the input cannot hold before allocating.
	if err := d.need(11*n, fmt.Sprintf("%d inputs", n)); err != nil {
		return nil, err
	}
	m.Inputs = make([]string, n)
	for i := range m.Inputs {
		what := fmt.Sprintf("input %d name", i+1)
		if err := d.need(2, what+" length"); err != nil {
			return nil, err
		}
		at := d.off
		l := d.u16()
		if l < 1 || l > MaxNameLen {
			return nil, artifactErrorf("%s length %d at byte %d, want 1..%d", what, l, at, MaxNameLen)
		}
		if err := d.need(l, what); err != nil {
			return nil, err
		}
		m.Inputs[i] = string(data[d.off : d.off+l])
		d.off += l
	}
	var err error
	if m.Mean, err = d.floats(n, "means"); err != nil {
		return nil, err
	}
	if m.Scale, err = d.floats(n, "scales"); err != nil {
		return nil, err
	}
	if err := d.need(8*nl, "layer shapes"); err != nil {
		return nil, err
	}
	m.Layers = make([]Layer, nl)
	prev := n
	for i := range m.Layers {
		l := &m.Layers[i]
		l.In, l.Out = d.u32(), d.u32()
		switch {
		case i == 0 && l.In != prev:
			return nil, artifactErrorf("layer 1: In %d != %d inputs", l.In, prev)
		case l.In != prev:
			return nil, artifactErrorf("layer %d: In %d != previous Out %d", i+1, l.In, prev)
		case i == nl-1 && l.Out != 1:
			return nil, artifactErrorf("layer %d (output): Out %d, want 1", i+1, l.Out)
		case l.Out < 1 || l.Out > MaxWidth:
			return nil, artifactErrorf("layer %d: Out %d, want 1..%d", i+1, l.Out, MaxWidth)
		}
		prev = l.Out
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		if l.W, err = d.floats(l.In*l.Out, fmt.Sprintf("layer %d weights", i+1)); err != nil {
			return nil, err
		}
		if l.B, err = d.floats(l.Out, fmt.Sprintf("layer %d biases", i+1)); err != nil {
			return nil, err
		}
	}
	if err := d.need(4, "checksum"); err != nil {
		return nil, err
	}
	if extra := len(data) - d.off - 4; extra > 0 {
		return nil, artifactErrorf("%d unexpected bytes after the layers at byte %d (the file is %d bytes, the layout ends at %d)", extra, d.off, len(data), d.off+4)
	}
	want := binary.LittleEndian.Uint32(data[d.off:])
	if got := crc32.Checksum(data[:d.off], castagnoli); got != want {
		return nil, artifactErrorf("checksum mismatch (stored %08x, computed %08x): the file is corrupt", want, got)
	}
	m.Arch.Hidden = make([]int, nl-1)
	for i := range m.Arch.Hidden {
		m.Arch.Hidden[i] = m.Layers[i].Out
	}
	if nl == 1 {
		m.Arch.Hidden = nil
	}
	if msg := m.check(); msg != "" {
		return nil, artifactErrorf("%s", msg)
	}
	return m, nil
}

// Load reads and validates the artifact at path. Errors name the file; a
// decoding error matches ErrArtifact, a missing file fs.ErrNotExist.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: cannot read artifact: %w", err)
	}
	m, err := Unmarshal(data)
	if err != nil {
		// Every Unmarshal error is an *Error whose message starts
		// "model artifact:"; name the file there.
		msg := strings.TrimPrefix(err.Error(), "model artifact:")
		return nil, &Error{Kind: ErrArtifact, Msg: "model artifact " + path + ":" + msg}
	}
	return m, nil
}

// Save writes m's artifact to path atomically: to a temporary file in the
// same directory, fsynced, then renamed over path, then the directory is
// fsynced. On error path is untouched and the temporary file removed.
func (m *Model) Save(path string) error {
	data, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("model: cannot save %s: %w", path, err)
	}
	return nil
}
