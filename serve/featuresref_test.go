package serve

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/fstore/fstore/featurestore"
)

// exampleCatalog is the catalog of the example definitions.
func exampleCatalog(t *testing.T) *catalog {
	t.Helper()
	d, _ := exampleDefs(t)
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	loadExample(t, st, st.Online(), d)
	fs := newFeatureServer(st.Online(), st.Registry(), Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	cat := fs.cat.Load()
	if len(cat.views) < 2 || len(cat.od) == 0 {
		t.Fatalf("the example catalog has %d views and %d on-demand views; the test needs both kinds", len(cat.views), len(cat.od))
	}
	return cat
}

// TestFeatureIDs: every output of every view and on-demand view has its
// own id below catalog.nids, which a request's bitmap of seen features
// relies on.
func TestFeatureIDs(t *testing.T) {
	cat := exampleCatalog(t)
	ids := map[int]string{}
	add := func(id int, name string) {
		if id < 0 || id >= cat.nids {
			t.Fatalf("%s: id %d outside [0, %d)", name, id, cat.nids)
		}
		if prev, dup := ids[id]; dup {
			t.Fatalf("%s and %s have the same id %d", prev, name, id)
		}
		ids[id] = name
	}
	var sel selection
	for name, sv := range cat.views {
		if err := cat.add(&sel, name, "*"); err != nil {
			t.Fatal(err)
		}
		for o := range sv.ov.Outputs {
			add(sv.id0+o, sv.fullNames[o])
		}
	}
	for name, sod := range cat.od {
		if err := cat.add(&sel, name, "*"); err != nil {
			t.Fatal(err)
		}
		for o := range sod.plan.Outputs {
			add(sod.id0+o, sod.fullNames[o])
		}
	}
	if len(ids) != cat.nids {
		t.Fatalf("%d outputs, nids %d", len(ids), cat.nids)
	}
	for _, f := range sel.features {
		if ids[f.id] != f.fullName {
			t.Fatalf("feature %s has id %d, which is %s's", f.fullName, f.id, ids[f.id])
		}
	}
}

// TestAddRef drives one request state through a series of requests, as
// the pool does: a feature requested twice is an error, whether twice by
// name, by name and "*", of a view or of an on-demand view, and a request
// after one that failed or succeeded does not see its features (reset
// clears their bits). References resolved through the last view's memo
// give what catalog.add gives, errors included.
func TestAddRef(t *testing.T) {
	cat := exampleCatalog(t)
	var all []string
	for name := range cat.views {
		all = append(all, name+":*")
	}
	for name := range cat.od {
		all = append(all, name+":*")
	}
	var od string
	for name := range cat.od {
		od = name
	}
	// others: "*" of every view and on-demand view but driver_hourly and od.
	var others []string
	for _, ref := range all {
		if ref != "driver_hourly:*" && ref != od+":*" {
			others = append(others, ref)
		}
	}
	odOut := cat.od[od].plan.Outputs[0].Name
	lim := Limits{}
	lim.EnsureDefaults()
	r := &onlineRequest{}
	cases := []struct {
		refs []string
		err  string // "" for none
	}{
		{all, ""},
		{all, ""},
		{[]string{"driver_hourly:conv_rate", "driver_hourly:conv_rate"}, "requested twice"},
		{[]string{"driver_hourly:conv_rate", "driver_trips:trips_24h", "driver_hourly:*"}, "requested twice"},
		{[]string{od + ":" + odOut, "driver_hourly:rating", od + ":*"}, "requested twice"},
		{[]string{od + ":" + odOut, "driver_hourly:rating", "driver_hourly:conv_rate", od + ":*"}, "requested twice"},
		{[]string{"driver_hourly:conv_rate", "driver_hourly:nope"}, `feature view "driver_hourly" has no feature "nope"`},
		{[]string{"driver_hourly:conv_rate", "nope:x"}, `unknown feature view "nope"`},
		{[]string{"driver_hourly:conv_rate", od + ":nope"}, `has no feature "nope"`},
		{append([]string{"driver_hourly:conv_rate", od + ":" + odOut, "driver_hourly:rating"}, others...), ""},
		{all, ""},
	}
	for _, c := range cases {
		r.reset(cat, &lim)
		var err error
		for _, ref := range c.refs {
			if err = r.addRef(ref); err != nil {
				break
			}
		}
		switch {
		case c.err == "" && err != nil:
			t.Fatalf("%v: %v", c.refs, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Fatalf("%v: error %v, want one containing %q", c.refs, err, c.err)
		case err != nil:
			continue
		}
		// The same features as catalog.add resolves, in order.
		var want selection
		for _, ref := range c.refs {
			view, name, _ := strings.Cut(ref, ":")
			if err := cat.add(&want, view, name); err != nil {
				t.Fatal(err)
			}
		}
		if len(r.sel.features) != len(want.features) || len(r.sel.views) != len(want.views) || len(r.sel.ods) != len(want.ods) {
			t.Fatalf("%v: %d features, %d views, %d on-demand views; catalog.add: %d, %d, %d", c.refs,
				len(r.sel.features), len(r.sel.views), len(r.sel.ods), len(want.features), len(want.views), len(want.ods))
		}
		for i, f := range r.sel.features {
			if f != want.features[i] {
				t.Fatalf("%v: feature %d is %+v, catalog.add's %+v", c.refs, i, f, want.features[i])
			}
		}
	}
	// An error found through the memo reads as one found without it.
	for _, refs := range [][]string{{"driver_hourly:nope"}, {"driver_hourly:conv_rate", "driver_hourly:nope"}} {
		r.reset(cat, &lim)
		var err error
		for _, ref := range refs {
			err = r.addRef(ref)
		}
		if want := `feature reference "driver_hourly:nope": feature view "driver_hourly" has no feature "nope"`; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("%v: %v, want %s…", refs, err, want)
		}
	}
}
