package report

import (
	"os"
	"testing"
)

// TestWriteSample writes the sample page to $SKEW_SAMPLE for a look in a
// browser; without it the test does nothing.
func TestWriteSample(t *testing.T) {
	out := os.Getenv("SKEW_SAMPLE")
	if out == "" {
		t.Skip("set SKEW_SAMPLE=/path/page.html to write the sample page")
	}
	_, page := writeSample(t)
	if err := os.WriteFile(out, page, 0o644); err != nil {
		t.Fatal(err)
	}
}
