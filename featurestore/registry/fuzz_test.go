package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore/def"
)

// FuzzLoad feeds arbitrary bytes through the whole definitions path: parse,
// compile, apply, read back. No input may panic; every failure must be one
// of the documented error kinds; and whatever applies must read back into
// definitions that compile again and re-apply as a no-op.
//
//	go test ./featurestore/registry -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	f.Add(rides.Definitions)
	for _, path := range []string{"testdata/errors", "testdata/plan"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		// Every datadriven input is a seed.
		for _, block := range strings.Split(string(data), "\n----\n") {
			lines := strings.Split(block, "\n")
			var in []string
			started := false
			for _, l := range lines {
				if !started && (l == "load" || l == "plan" || strings.HasPrefix(l, "apply")) {
					started = true
					in = in[:0]
					continue
				}
				if started {
					in = append(in, l)
				}
			}
			if started {
				f.Add([]byte(strings.Join(in, "\n")))
			}
		}
	}
	f.Add([]byte("feature_views: [{name: \"a\"}, {name: \"b\"}]"))
	f.Add([]byte("entities <name: 'x' join_keys <name: \"k\" type: 1>>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseText("fuzz.textproto", data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrLoad) {
				t.Fatalf("parse error of type %T does not match ErrLoad: %v", err, err)
			}
			return
		}
		origins := objectOrigins("fuzz.textproto", data, map[string]int{})
		d, err := Compile(p, origins, nil)
		if err != nil {
			if !errors.Is(err, def.ErrInvalid) {
				t.Fatalf("compile error %T does not match def.ErrInvalid: %v", err, err)
			}
			return
		}
		db := openMemDB(t, vfs.NewMem())
		defer db.Close()
		r, err := Open(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		res, err := r.Apply(d, ApplyOptions{})
		if err != nil {
			if errors.Is(err, def.ErrInvalid) {
				return // strings that are not UTF-8 cannot be stored
			}
			t.Fatalf("valid definitions failed to apply: %v", err)
		}
		again, err := Compile(FromDef(res.Snapshot.Defs), nil, nil)
		if err != nil {
			t.Fatalf("stored definitions no longer compile: %v", err)
		}
		res2, err := r.Apply(again, ApplyOptions{})
		if err != nil {
			t.Fatalf("re-applying stored definitions: %v", err)
		}
		if res2.Applied {
			t.Fatalf("stored definitions read back differently: %v", res2.Changes)
		}
	})
}

// TestExampleFileLoadsFromDisk checks the example definitions file that
// users apply with `fstore apply -f examples/rides` is the embedded one.
func TestExampleFileLoadsFromDisk(t *testing.T) {
	p, origins, err := LoadFiles([]string{filepath.Join("..", "..", "examples", "rides")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Compile(p, origins, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Origins point at the line that opens the object ("feature_views {").
	if got := d.FeatureViews[0].Origin; !strings.HasSuffix(got, "definitions.textproto:62") {
		t.Errorf("origin of driver_hourly = %q", got)
	}
	if !filepath.IsAbs(d.Sources[0].Path) {
		t.Errorf("source path %q not resolved", d.Sources[0].Path)
	}
}

// TestRelativeSkewPaths: a feature-log destination and a monitoring
// baseline given relative to the definitions file resolve against it, as
// Parquet sources do; absolute ones stay as they are.
func TestRelativeSkewPaths(t *testing.T) {
	dir := t.TempDir()
	defs := `feature_services { name: "a" features: "v:x" logging { sample_rate: 0.1 destination: "logs" }
  monitoring { enabled: true baseline: "base/train.parquet.profile.json" } }
feature_services { name: "b" features: "v:x" logging { sample_rate: 0.1 destination: "/var/log/fstore" } }
`
	if err := os.WriteFile(filepath.Join(dir, "defs.textproto"), []byte(defs), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, err := LoadFiles([]string{filepath.Join(dir, "defs.textproto")})
	if err != nil {
		t.Fatal(err)
	}
	svcs := p.GetFeatureServices()
	if got, want := svcs[0].GetLogging().GetDestination(), filepath.Join(dir, "logs"); got != want {
		t.Errorf("destination %q, want %q", got, want)
	}
	if got, want := svcs[0].GetMonitoring().GetBaseline(), filepath.Join(dir, "base", "train.parquet.profile.json"); got != want {
		t.Errorf("baseline %q, want %q", got, want)
	}
	if got := svcs[1].GetLogging().GetDestination(); got != "/var/log/fstore" {
		t.Errorf("absolute destination changed to %q", got)
	}
}
