package featurestore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

// TestCompileOnlineWithoutFiles is a serving replica's case: the view's
// Parquet files are not on this machine. Without a declared schema the
// view cannot compile, and the error says what to declare; with one, it
// compiles to exactly the layout a process with the files compiles, so
// the replica reads what that process materialised.
func TestCompileOnlineWithoutFiles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	k, ts, x := int64(1), int64(1_000_000), 2.5
	if err := parquet.WriteFile(filepath.Join(src, "part-0.parquet"), []srcRow{{K: &k, TS: &ts, Created: &ts, X: &x}}); err != nil {
		t.Fatal(err)
	}
	compile := func(schema string) (*featurestore.OnlineView, error) {
		text := `entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "s" parquet { path: "` + src + `" } timestamp_column: "ts" created_timestamp_column: "created" ` + schema + ` }
feature_views { name: "v" entities: "e" source: "s" features { name: "x2" type: DOUBLE expr: "x * 2" }
  aggregations { name: "n" function: COUNT window { seconds: 3600 } hop { seconds: 600 } } }
`
		p, err := registry.ParseText("defs", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		d, err := registry.Compile(p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ix := def.NewIndex(d)
		return featurestore.CompileOnline(ix, ix.FeatureView("v"))
	}
	const declared = `schema { name: "k" type: INT64 } schema { name: "ts" type: TIMESTAMP }
  schema { name: "created" type: TIMESTAMP } schema { name: "x" type: DOUBLE }`

	withFiles, err := compile("")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	_, err = compile("")
	if err == nil || !strings.Contains(err.Error(), "no such file") || !strings.Contains(err.Error(), `needs its columns declared: schema { name: ... type: ... } in source "s"`) {
		t.Fatalf("without files or schema: %v; want the read error and the hint", err)
	}
	replica, err := compile(declared)
	if err != nil {
		t.Fatalf("without files, with a declared schema: %v", err)
	}
	if replica.Layout.SchemaVersion != withFiles.Layout.SchemaVersion || !equalTypes(replica, withFiles) {
		t.Errorf("the replica's layout %+v differs from the one compiled with the files %+v", replica.Layout, withFiles.Layout)
	}
}

func equalTypes(a, b *featurestore.OnlineView) bool {
	if len(a.Outputs) != len(b.Outputs) || len(a.KeyTypes) != len(b.KeyTypes) {
		return false
	}
	for i := range a.Outputs {
		if a.Outputs[i] != b.Outputs[i] {
			return false
		}
	}
	for i := range a.KeyTypes {
		if a.KeyTypes[i] != b.KeyTypes[i] {
			return false
		}
	}
	return true
}
