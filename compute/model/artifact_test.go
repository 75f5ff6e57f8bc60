package model

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func tinyModel() *Model {
	return &Model{
		Task:   Binary,
		Inputs: []string{"v__a", "v__b"},
		Mean:   []float32{1, -2},
		Scale:  []float32{0.5, 4},
		Layers: []Layer{{In: 2, Out: 1, W: []float32{0.25, -1.5}, B: []float32{0.125}}},
	}
}

// tinyArtifact is tinyModel's encoding, field by field. The checksum was
// computed independently of this package (Python, bitwise CRC-32C).
const tinyArtifact = "" +
	"4653544d4f44454c" + // magic "FSTMODEL"
	"0100" + // format version 1
	"01" + // task binary
	"01" + // 1 layer
	"02000000" + // 2 inputs
	"0400" + "765f5f61" + // "v__a"
	"0400" + "765f5f62" + // "v__b"
	"0000803f" + "000000c0" + // mean 1, -2
	"0000003f" + "00008040" + // scale 0.5, 4
	"02000000" + "01000000" + // layer 1: In 2, Out 1
	"0000803e" + "0000c0bf" + // W 0.25, -1.5
	"0000003e" + // B 0.125
	"1ab83c97" // CRC-32C

// TestArtifactExactBytes pins the format: a change to the encoding must
// come with a new format version.
func TestArtifactExactBytes(t *testing.T) {
	got, err := tinyModel().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if h := hex.EncodeToString(got); h != tinyArtifact {
		t.Fatalf("encoding drifted:\n got %s\nwant %s", h, tinyArtifact)
	}
	want, _ := hex.DecodeString(tinyArtifact)
	m, err := Unmarshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, tinyModel()) {
		t.Fatalf("decoded %+v, want %+v", m, tinyModel())
	}
}

func TestArtifactRoundTrip(t *testing.T) {
	trained, _, err := Train(t.Context(), synth(300, 4, 1, 0.1, regRule), TrainConfig{Arch: Arch{Hidden: []int{5}}, Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Model{
		tinyModel(),
		trained,
		randomModel(Regression, 50, []int{64, 32}, 1),
		randomModel(Binary, 1, []int{1, 1, 1}, 2),
		randomModel(Binary, 3, []int{300}, 3),
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("arch %s: round trip changed the model", m.Arch)
		}
		b2, _ := got.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatalf("arch %s: re-encoding differs", m.Arch)
		}
	}
}

// fixCRC recomputes the trailing checksum of a hand-edited artifact.
func fixCRC(b []byte) []byte {
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestUnmarshalErrors(t *testing.T) {
	tiny, _ := tinyModel().MarshalBinary()
	mlp, _ := randomModel(Binary, 4, []int{64, 32}, 1).MarshalBinary()
	edit := func(src []byte, f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), src...))
	}
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return fixCRC(b) }
	}
	// In the mlp artifact (four 5-byte names "v__xN"), the layer shapes
	// start at 16 + 4·(2+5) + 2·4·4 = 76.
	const shapes = 76
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, `model artifact: not a model artifact (starts "", want "FSTMODEL")`},
		{"magic", []byte("PAR1...."), `model artifact: not a model artifact (starts "PAR1....", want "FSTMODEL")`},
		{"no version", []byte("FSTMODEL\x01"), "model artifact: truncated at byte 8 (format version, want 2 bytes, have 1)"},
		{"version", edit(tiny, func(b []byte) []byte { b[8] = 3; return b }), "model artifact: unsupported format version 3 (this build reads 1)"},
		{"task", edit(tiny, func(b []byte) []byte { b[10] = 7; return fixCRC(b) }), "model artifact: unknown task 7 at byte 10 (want 1 binary or 2 regression)"},
		{"no layers", edit(tiny, func(b []byte) []byte { b[11] = 0; return fixCRC(b) }), "model artifact: layer count 0 at byte 11, want 1..17"},
		{"no inputs", edit(tiny, put32(12, 0)), "model artifact: input count 0 at byte 12, want 1..65536"},
		{"lying input count", edit(tiny, put32(12, 60000)), "model artifact: truncated at byte 16 (60000 inputs, want 660000 bytes, have 52)"},
		{"empty name", edit(tiny, func(b []byte) []byte { b[16] = 0; return fixCRC(b) }), "model artifact: input 1 name length 0 at byte 16, want 1..1024"},
		{"duplicate names", edit(tiny, func(b []byte) []byte { b[27] = 'a'; return fixCRC(b) }), `model artifact: inputs 1 and 2 are both named "v__a"`},
		{"bad utf8", edit(tiny, func(b []byte) []byte { b[27] = 0xff; return fixCRC(b) }), `model artifact: input 2 name "v__\xff" is not valid UTF-8`},
		{"zero scale", edit(tiny, put32(36, 0)), `model artifact: input "v__a": scale is 0, want finite and > 0`},
		{"layer chain", edit(mlp, put32(shapes+8, 32)), "model artifact: layer 2: In 32 != previous Out 64"},
		{"first layer", edit(mlp, put32(shapes, 5)), "model artifact: layer 1: In 5 != 4 inputs"},
		{"output width", edit(mlp, put32(shapes+20, 2)), "model artifact: layer 3 (output): Out 2, want 1"},
		{"huge width", edit(mlp, put32(shapes+4, 1<<30)), "model artifact: layer 1: Out 1073741824, want 1..4096"},
		{"truncated weights", tiny[:58], "model artifact: truncated at byte 52 (layer 1 weights, want 8 bytes, have 6)"},
		{"truncated checksum", tiny[:66], "model artifact: truncated at byte 64 (checksum, want 4 bytes, have 2)"},
		{"trailing bytes", append(append([]byte(nil), tiny...), 0, 0), "model artifact: 2 unexpected bytes after the layers at byte 64 (the file is 70 bytes, the layout ends at 68)"},
		{"checksum", edit(tiny, func(b []byte) []byte { b[60] ^= 1; return b }), "model artifact: checksum mismatch (stored 973cb81a, computed 4a7912a2): the file is corrupt"},
		{"nan weight", edit(tiny, put32(52, math.Float32bits(float32(math.NaN())))), "model artifact: layer 1: weight [0,0] is NaN"},
		{"inf bias", edit(tiny, put32(64-4, math.Float32bits(float32(math.Inf(1))))), "model artifact: layer 1: bias 0 is +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Unmarshal(tc.data)
			if m != nil || !errors.Is(err, ErrArtifact) {
				t.Fatalf("Unmarshal = %v, %v; want an ErrArtifact", m, err)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got %s\nwant %s", err, tc.want)
			}
		})
	}
	// Every truncation is an error, never a panic.
	for n := range len(mlp) {
		if _, err := Unmarshal(mlp[:n]); !errors.Is(err, ErrArtifact) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
}

func TestMarshalInvalid(t *testing.T) {
	m := tinyModel()
	m.Scale[1] = float32(math.Inf(1))
	if _, err := m.MarshalBinary(); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), `input "v__b": scale is +Inf`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.fstmodel")
	m := randomModel(Regression, 5, []int{3}, 4)
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(path); err != nil { // overwrite
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatal("Load(Save(m)) != m")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files in the directory, want 1 (no temporary left)", len(ents))
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-1], 0o644)
	_, err = Load(path)
	if !errors.Is(err, ErrArtifact) || !strings.HasPrefix(err.Error(), "model artifact "+path+": truncated at byte") {
		t.Fatalf("truncated file: %v", err)
	}
	if err := m.Save(filepath.Join(dir, "no", "such", "dir")); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
}

// FuzzUnmarshal: any input either decodes to a model that re-encodes to
// the same bytes and can serve, or fails with ErrArtifact; never a panic,
// never an allocation beyond what the input's length allows.
func FuzzUnmarshal(f *testing.F) {
	tiny, _ := tinyModel().MarshalBinary()
	mlp, _ := randomModel(Regression, 3, []int{4, 2}, 1).MarshalBinary()
	f.Add(tiny)
	f.Add(mlp)
	f.Add(tiny[:40])
	f.Add([]byte("FSTMODEL\x01\x00\x01\x01\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			if !errors.Is(err, ErrArtifact) {
				t.Fatalf("error %v does not match ErrArtifact", err)
			}
			return
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		if !bytes.Equal(b, data) {
			t.Fatal("re-encoding differs from the input")
		}
		e, err := NewEngine(m, &EngineOptions{MaxBatch: 4})
		if err != nil {
			t.Fatalf("decoded model has no engine: %v", err)
		}
		out := make([]float32, 2)
		if err := e.Predict(make([]float32, 2*len(m.Inputs)), 2, out); err != nil {
			t.Fatal(err)
		}
	})
}
