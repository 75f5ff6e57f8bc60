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
	// buf.gen.yaml generates fstore's own API into proto/; the Open
	// Inference Protocol's service is generated beside its .proto under
	// third_party/oip by its own template.
	checkFresh(t, buf, root, filepath.Join("proto", "fstore", "v1"), ".", "generate", "-o", "TMP")
	checkFresh(t, buf, root, filepath.Join("third_party", "oip", "inference"), filepath.Join(root, "third_party", "oip", "inference"),
		"generate", "--template", "buf.gen.oip.yaml", "third_party/oip", "-o", "TMP")
}

// checkFresh runs buf with args ("TMP" replaced by a temporary directory)
// in root and compares the generated files under TMP/sub with those
// committed in dir.
func checkFresh(t *testing.T, buf, root, sub, dir string, args ...string) {
	t.Helper()
	tmp := t.TempDir()
	for i, a := range args {
		if a == "TMP" {
			args[i] = tmp
		}
	}
	gen := exec.Command(buf, args...)
	gen.Dir = root
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("buf %v failed: %v\n%s", args, err, out)
	}
	fresh := filepath.Join(tmp, sub)
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
	want, have := list(fresh), list(dir)
	if strings.Join(want, " ") != strings.Join(have, " ") {
		t.Fatalf("generated files differ: buf generates %v, committed are %v; run `make proto`", want, have)
	}
	for _, name := range want {
		a, err := os.ReadFile(filepath.Join(fresh, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s is stale: run `make proto` and commit the result", name)
		}
	}
}
