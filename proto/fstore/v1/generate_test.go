package fstorev1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// generatedSuffixes are the files buf.gen.yaml produces.
var generatedSuffixes = []string{".pb.go", ".pb.gw.go", ".swagger.json"}

func isGenerated(name string) bool {
	for _, s := range generatedSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// TestGeneratedCodeIsFresh regenerates the protobuf code into a temporary
// directory and fails if it differs from what is committed, so that a
// .proto edit without `make proto` cannot land. It also runs buf lint. It
// needs buf on PATH (`make proto-tools` installs it) and skips otherwise.
func TestGeneratedCodeIsFresh(t *testing.T) {
	buf, err := exec.LookPath("buf")
	if err != nil {
		t.Skip("buf is not installed: run `make proto-tools` (or go install github.com/bufbuild/buf/cmd/buf) to check generated code")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	lint := exec.Command(buf, "lint")
	lint.Dir = root
	if out, err := lint.CombinedOutput(); err != nil {
		t.Fatalf("buf lint failed: %v\n%s", err, out)
	}
	tmp := t.TempDir()
	gen := exec.Command(buf, "generate", "-o", tmp)
	gen.Dir = root
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("buf generate failed: %v\n%s", err, out)
	}
	fresh := filepath.Join(tmp, "proto", "fstore", "v1")
	list := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			if isGenerated(e.Name()) {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		return names
	}
	want, have := list(fresh), list(".")
	if strings.Join(want, " ") != strings.Join(have, " ") {
		t.Fatalf("generated files differ: buf generates %v, committed are %v; run `make proto`", want, have)
	}
	for _, name := range want {
		a, err := os.ReadFile(filepath.Join(fresh, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s is stale: run `make proto` and commit the result", name)
		}
	}
}
