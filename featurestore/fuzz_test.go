package featurestore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

const fuzzDefs = `entities { name: "e" join_keys { name: "k" type: INT64 } }
sources { name: "ps" push { } timestamp_column: "ts"
  schema { name: "k" type: INT64 } schema { name: "ts" type: TIMESTAMP }
  schema { name: "x" type: DOUBLE } schema { name: "s" type: STRING } schema { name: "b" type: BOOL } }
feature_views { name: "v" entities: "e" source: "ps"
  features { name: "x" type: DOUBLE } features { name: "s" type: STRING } features { name: "b" type: BOOL }
  aggregations { name: "n" function: COUNT window { seconds: 3600 } hop { seconds: 60 } } }
`

// FuzzDecodeJSONLines: pushed events in any bytes never panic the decoder;
// what it accepts, Push applies without error to a real store, and reads
// back.
func FuzzDecodeJSONLines(f *testing.F) {
	for _, s := range []string{
		`{"k": 1, "ts": "2026-01-01T00:00:00Z", "x": 1.5, "s": "a", "b": true}`,
		`{"k": 1, "ts": 1700000000000000}` + "\n" + `{"k": 2, "ts": 0, "x": null}`,
		`{"k": "1"}`, `{"kk": 1}`, `[1,2]`, `{"k": 1e3, "ts": -5}`, "\n\n", `{"s": "\u0000"}`,
	} {
		f.Add(s)
	}
	p, err := registry.ParseText("defs", []byte(fuzzDefs))
	if err != nil {
		f.Fatal(err)
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	ix := def.NewIndex(d)
	ov, err := featurestore.CompileOnline(ix, ix.FeatureView("v"))
	if err != nil {
		f.Fatal(err)
	}
	st, err := featurestore.Open(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	f.Fuzz(func(t *testing.T, in string) {
		b, err := featurestore.DecodeJSONLines(strings.NewReader(in), ov)
		if err != nil {
			return
		}
		if b.Len > 0 && len(b.Cols) != len(ov.Push.Source.Schema) {
			t.Fatalf("%d columns for %d schema fields", len(b.Cols), len(ov.Push.Source.Schema))
		}
		// Beyond null keys and times, Push refuses only values that would
		// poison the state (1e400 decodes to +Inf; an event from the far
		// future), as an EventError.
		_, err = featurestore.Push(context.Background(), st.Online(), ov, b, featurestore.PushOptions{})
		var ee *featurestore.EventError
		if err != nil && !strings.Contains(err.Error(), "is null") && !errors.As(err, &ee) {
			t.Fatalf("decoded events were refused by Push: %v", err)
		}
	})
}
