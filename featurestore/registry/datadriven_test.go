package registry

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/fstore/fstore/featurestore/def"
)

// TestDataDriven runs the scripts under testdata/. Commands:
//
//	load                 parse and validate the input; print "ok" or the error
//	apply [allow-breaking] [description=...]
//	                     apply the input; print the version and changes
//	plan                 plan the input against the latest version
//	history              list versions, newest first
//	get kind=K name=N [version=V]
//	                     print one object's metadata
//
// Rewrite expected outputs with: go test ./featurestore/registry -run TestDataDriven -rewrite
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		reg := newTestRegistry(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "load":
				if _, err := compileText("defs.textproto", d.Input); err != nil {
					return err.Error() + "\n"
				}
				return "ok\n"
			case "apply":
				defs, err := compileText("defs.textproto", d.Input)
				if err != nil {
					return err.Error() + "\n"
				}
				opts := ApplyOptions{AllowBreaking: d.HasArg("allow-breaking")}
				if d.HasArg("description") {
					d.ScanArgs(t, "description", &opts.Description)
				}
				res, err := reg.Apply(defs, opts)
				var b strings.Builder
				if res != nil {
					if res.Applied {
						fmt.Fprintf(&b, "applied version %d (%d objects)\n", res.Snapshot.Version, res.Snapshot.Info.ObjectCount)
					} else if err == nil {
						fmt.Fprintf(&b, "no changes (version %d)\n", res.Snapshot.Version)
					}
					writeChanges(&b, res.Changes)
				}
				if err != nil {
					fmt.Fprintf(&b, "error: %v\n", err)
				}
				return b.String()
			case "plan":
				defs, err := compileText("defs.textproto", d.Input)
				if err != nil {
					return err.Error() + "\n"
				}
				p, err := reg.Plan(defs)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				var b strings.Builder
				fmt.Fprintf(&b, "against version %d: %d changes, breaking=%t\n", p.BaseVersion, len(p.Changes), p.Breaking)
				writeChanges(&b, p.Changes)
				return b.String()
			case "history":
				h, err := reg.History(0)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				var b strings.Builder
				for _, v := range h {
					fmt.Fprintf(&b, "version %d: %d objects, %d changes, %q\n", v.Version, v.ObjectCount, len(v.Changes), v.Description)
				}
				return b.String()
			case "get":
				var kind, name string
				var version uint64
				d.ScanArgs(t, "kind", &kind)
				d.ScanArgs(t, "name", &name)
				if d.HasArg("version") {
					d.ScanArgs(t, "version", &version)
				}
				s, err := reg.At(version)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				m, ok := s.Meta(def.Kind(kind), name)
				if !ok {
					return "not found\n"
				}
				return fmt.Sprintf("%s %q: first applied in version %d\n", m.Kind, m.Name, m.Version)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func writeChanges(b *strings.Builder, changes []Change) {
	for _, c := range changes {
		mark := map[ChangeType]string{ChangeAdded: "+", ChangeChanged: "~", ChangeRemoved: "-"}[c.Type]
		fmt.Fprintf(b, "%s %s %q", mark, c.Kind, c.Name)
		if c.Breaking {
			b.WriteString(" (breaking)")
		}
		b.WriteByte('\n')
		for _, d := range c.Details {
			fmt.Fprintf(b, "    %s\n", d)
		}
	}
}

func compileText(name, text string) (*def.Definitions, error) {
	p, err := ParseText(name, []byte(text))
	if err != nil {
		return nil, err
	}
	return Compile(p, objectOrigins(name, []byte(text), map[string]int{}), nil)
}

var testEpoch = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// testClock returns a clock that advances one minute per call.
func testClock() func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return testEpoch.Add(time.Duration(n) * time.Minute)
	}
}
