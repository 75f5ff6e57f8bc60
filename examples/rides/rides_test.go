package rides

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	cfg := Config{Drivers: 20, Riders: 50, Days: 1, SpineRows: 100}
	sa, err := Generate(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Generate(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sa != sb || sa.DriverStats == 0 || sa.Trips == 0 || sa.Requests != 100 {
		t.Fatalf("stats %+v vs %+v", sa, sb)
	}
	for _, name := range []string{"driver_stats.parquet", "trips.parquet", "riders.parquet", "spine.parquet"} {
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same config", name)
		}
	}
	// Another seed gives other data.
	c := t.TempDir()
	cfg.Seed = 2
	if _, err := Generate(c, cfg); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(filepath.Join(a, "trips.parquet"))
	y, _ := os.ReadFile(filepath.Join(c, "trips.parquet"))
	if bytes.Equal(x, y) {
		t.Error("seed does not change the data")
	}
}

func TestGeneratedSchemas(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(dir, Config{Drivers: 5, Riders: 5, Days: 2, SpineRows: 10}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "driver_stats.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"driver_id":  "INT(64,true)",
		"event_ts":   "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
		"created_ts": "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
		"conv_rate":  "DOUBLE",
	}
	for name, typ := range want {
		col, ok := pf.Schema().Lookup(name)
		if !ok {
			t.Fatalf("no column %s", name)
		}
		got := col.Node.Type().String()
		if lt := col.Node.Type().LogicalType(); lt != nil {
			got = lt.String()
		}
		if got != typ {
			t.Errorf("column %s is %s, want %s", name, got, typ)
		}
	}
	if col, _ := pf.Schema().Lookup("conv_rate"); !col.Node.Optional() {
		t.Error("conv_rate should be nullable")
	}
}

func TestGenerateRejectsBadConfig(t *testing.T) {
	if _, err := Generate(t.TempDir(), Config{Drivers: -1}); err == nil {
		t.Fatal("negative driver count accepted")
	}
}
