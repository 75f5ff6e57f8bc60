package model

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type trainRow struct {
	DriverID int64    `parquet:"driver_id"`
	Label    *bool    `parquet:"label,optional"`
	Score    *float64 `parquet:"score,optional"`
	Trips    *int64   `parquet:"driver__trips,optional"`
	Rating   *float64 `parquet:"driver__rating,optional"`
	Premium  *bool    `parquet:"driver__premium,optional"`
	City     string   `parquet:"driver__city"`
	Name     string   `parquet:"name"`
}

func ptr[T any](v T) *T { return &v }

func writeRows(t *testing.T, path string, rows []trainRow, opts ...parquet.WriterOption) {
	t.Helper()
	if err := parquet.WriteFile(path, rows, opts...); err != nil {
		t.Fatal(err)
	}
}

var sampleRows = []trainRow{
	{DriverID: 1, Label: ptr(true), Score: ptr(0.5), Trips: ptr[int64](10), Rating: ptr(4.5), Premium: ptr(true), City: "a"},
	{DriverID: 2, Label: ptr(false), Score: ptr(1.5), Trips: nil, Rating: ptr(3.0), Premium: ptr(false), City: "b"},
	{DriverID: 3, Label: nil, Score: nil, Trips: ptr[int64](7), Rating: nil, Premium: nil, City: "c"},
	{DriverID: 4, Label: ptr(true), Score: ptr(2.5), Trips: ptr[int64](3), Rating: nil, Premium: nil, City: "d"},
}

func TestReadDataset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "train.parquet")
	writeRows(t, path, sampleRows, parquet.KeyValueMetadata(LineageKey, `{"views":["driver"]}`))
	ds, err := ReadDataset(path, "label", nil)
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	want := &Dataset{
		// driver__city is a string and skipped; driver_id has no "__".
		Features: []string{"driver__trips", "driver__rating", "driver__premium"},
		X: []float32{
			10, 4.5, 1,
			nan, 3, 0,
			3, nan, nan,
		},
		Y:                 []float32{1, 0, 1},
		Rows:              3,
		DroppedNullLabels: 1,
	}
	wantDataset(t, ds, want)
	if ds.Metadata[LineageKey] != `{"views":["driver"]}` {
		t.Fatalf("metadata %v", ds.Metadata)
	}

	// Named features, in the order asked for; a DOUBLE label.
	ds, err = ReadDataset(path, "score", []string{"driver__premium", "driver_id"})
	if err != nil {
		t.Fatal(err)
	}
	wantDataset(t, ds, &Dataset{
		Features:          []string{"driver__premium", "driver_id"},
		X:                 []float32{1, 1, 0, 2, nan, 4},
		Y:                 []float32{0.5, 1.5, 2.5},
		Rows:              3,
		DroppedNullLabels: 1,
	})

	// An INT64 label; a glob over two files concatenates them in name order.
	dir := filepath.Dir(path)
	writeRows(t, filepath.Join(dir, "train2.parquet"), sampleRows[:1])
	ds, err = ReadDataset(filepath.Join(dir, "train*.parquet"), "driver__trips", []string{"driver__rating"})
	if err != nil {
		t.Fatal(err)
	}
	wantDataset(t, ds, &Dataset{
		Features:          []string{"driver__rating"},
		X:                 []float32{4.5, nan, nan, 4.5},
		Y:                 []float32{10, 7, 3, 10},
		Rows:              4,
		DroppedNullLabels: 1,
	})
}

func wantDataset(t *testing.T, got, want *Dataset) {
	t.Helper()
	if strings.Join(got.Features, ",") != strings.Join(want.Features, ",") {
		t.Fatalf("features %q, want %q", got.Features, want.Features)
	}
	if got.Rows != want.Rows || got.DroppedNullLabels != want.DroppedNullLabels {
		t.Fatalf("rows %d dropped %d, want %d and %d", got.Rows, got.DroppedNullLabels, want.Rows, want.DroppedNullLabels)
	}
	same := func(a, b []float32) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
				return false
			}
		}
		return true
	}
	if !same(got.X, want.X) {
		t.Fatalf("X = %v, want %v", got.X, want.X)
	}
	if !same(got.Y, want.Y) {
		t.Fatalf("Y = %v, want %v", got.Y, want.Y)
	}
}

func TestReadDatasetErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "train.parquet")
	writeRows(t, path, sampleRows)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.parquet")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	garbage := filepath.Join(dir, "garbage.parquet")
	os.WriteFile(garbage, []byte("PAR1 this is not a parquet file PAR1"), 0o644)

	for _, tc := range []struct {
		name     string
		path     string
		label    string
		features []string
		want     string
	}{
		{"string feature", path, "label", []string{"driver__trips", "driver__city"}, `model: training set ` + path + `: feature column "driver__city" is STRING; want BOOL, INT64 or DOUBLE`},
		{"missing feature", path, "label", []string{"driver__trip"}, `model: training set ` + path + ` has no feature column "driver__trip" (did you mean "driver__trips"?)`},
		{"missing label", path, "labl", nil, `model: training set ` + path + ` has no label column "labl" (did you mean "label"?)`},
		{"string label", path, "name", nil, `model: training set ` + path + `: label column "name" is STRING; want BOOL, INT64 or DOUBLE`},
		{"no label", path, "", nil, `model: training set ` + path + `: no label column named`},
		{"label as feature", path, "label", []string{"label"}, `model: training set ` + path + `: column "label" is both the label and a feature`},
		{"duplicate feature", path, "label", []string{"driver__trips", "driver__trips"}, `model: training set ` + path + `: feature "driver__trips" listed twice`},
		{"empty features", path, "label", []string{}, `model: training set ` + path + `: an empty feature list`},
		{"missing file", filepath.Join(dir, "nope.parquet"), "label", nil, "model: training set " + filepath.Join(dir, "nope.parquet") + ": stat " + filepath.Join(dir, "nope.parquet") + ": no such file or directory"},
		{"no match", filepath.Join(dir, "x*.parquet"), "label", nil, "model: training set " + filepath.Join(dir, "x*.parquet") + ": no Parquet files match " + filepath.Join(dir, "x*.parquet")},
		{"truncated", truncated, "label", nil, "model: training set: " + truncated + ": not a readable Parquet file"},
		{"garbage", garbage, "label", nil, "model: training set: " + garbage + ": not a readable Parquet file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := ReadDataset(tc.path, tc.label, tc.features)
			if ds != nil || !errors.Is(err, ErrInput) {
				t.Fatalf("ReadDataset = %v, %v; want an ErrInput", ds, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error\n got %s\nwant %s…", err, tc.want)
			}
		})
	}

	// Corrupt column data under an intact footer: an error or (where the
	// damage is in bytes that do not matter) a dataset, never a panic.
	footer := int(binary.LittleEndian.Uint32(data[len(data)-8:])) + 8
	corrupt := filepath.Join(dir, "corrupt.parquet")
	for off := 4; off < len(data)-footer; off += 3 {
		bad := append([]byte(nil), data...)
		bad[off] ^= 0xa5
		os.WriteFile(corrupt, bad, 0o644)
		if _, err := ReadDataset(corrupt, "label", nil); err != nil && !errors.Is(err, ErrInput) {
			t.Fatalf("byte %d corrupted: %v does not match ErrInput", off, err)
		}
	}
}

// TestReadDatasetTrain: a dataset read from Parquet trains end to end.
func TestReadDatasetTrain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "train.parquet")
	src := synth(400, 3, 11, 0.05, linearRule)
	rows := make([]trainRow, src.Rows)
	for i := range rows {
		x := src.X[i*3 : i*3+3]
		rows[i] = trainRow{DriverID: int64(i), Label: ptr(src.Y[i] == 1), City: "x"}
		if x[0] == x[0] {
			rows[i].Rating = ptr(float64(x[0]))
		}
		if x[1] == x[1] {
			rows[i].Score = ptr(float64(x[1]))
		}
		if x[2] == x[2] {
			rows[i].Trips = ptr(int64(math.Round(float64(x[2] * 100))))
		}
	}
	writeRows(t, path, rows)
	ds, err := ReadDataset(path, "label", []string{"driver__rating", "score", "driver__trips"})
	if err != nil {
		t.Fatal(err)
	}
	m, met, err := Train(t.Context(), ds, TrainConfig{Epochs: 30, BatchSize: 32, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Task != Binary || met["auc"] < 0.95 {
		t.Fatalf("task %v, metrics %v; want binary with AUC > 0.95", m.Task, met)
	}
}
