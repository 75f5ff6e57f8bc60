package compute

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated documentation")

// TestExpressionsDocIsCurrent keeps EXPRESSIONS.md's function table equal to
// the docs in the function table itself, so that the documentation cannot
// drift from the code.
func TestExpressionsDocIsCurrent(t *testing.T) {
	const begin, end = "<!-- functions:begin", "<!-- functions:end -->"
	b, err := os.ReadFile("EXPRESSIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatal("EXPRESSIONS.md lacks the functions markers")
	}
	i += strings.Index(doc[i:], "\n") + 1
	var table strings.Builder
	table.WriteString("| function | semantics |\n|---|---|\n")
	for _, line := range FunctionDocs() {
		name, text, _ := strings.Cut(line, ": ")
		table.WriteString("| `" + name + "` | " + strings.ReplaceAll(text, "|", "\\|") + " |\n")
	}
	want := doc[:i] + table.String() + doc[j:]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile("EXPRESSIONS.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("EXPRESSIONS.md's function table is stale: go test ./compute -run TestExpressionsDoc -update")
}
