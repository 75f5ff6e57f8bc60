// Package layers holds the test that keeps DESIGN.md's dependency arrows
// true: serve, backfill and skewcheck depend on compute and featurestore,
// never the other way; compute knows only featurestore/def of featurestore.
package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fstore/fstore/"

// forbidden maps a package pattern to the module packages its non-test
// code must not depend on, directly or not (by path prefix).
var forbidden = []struct {
	pattern string
	deny    []string
	allow   []string // exceptions to deny, by prefix
}{
	{"./compute/...", []string{"featurestore", "serve", "backfill", "skewcheck", "bench", "cmd"}, []string{"featurestore/def"}},
	{"./featurestore/...", []string{"serve", "backfill", "skewcheck", "bench", "cmd"}, nil},
	{"./skewcheck/...", []string{"serve", "bench", "cmd"}, nil},
	{"./backfill/...", []string{"serve", "bench", "cmd"}, nil},
	{"./serve/...", []string{"bench", "cmd"}, nil},
}

func TestDependencyArrows(t *testing.T) {
	for _, f := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "../../"+strings.TrimPrefix(f.pattern, "./")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", f.pattern, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			rel, ok := strings.CutPrefix(dep, module)
			if !ok {
				continue
			}
			for _, d := range f.deny {
				if rel != d && !strings.HasPrefix(rel, d+"/") {
					continue
				}
				allowed := false
				for _, a := range f.allow {
					if rel == a || strings.HasPrefix(rel, a+"/") {
						allowed = true
					}
				}
				if !allowed {
					t.Errorf("%s depends on %s (DESIGN.md: dependencies point one way)", f.pattern, dep)
				}
			}
		}
	}
}
