package registry

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore/def"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(f string, a ...any) {
	panic(f)
}

func openMemDB(t testing.TB, fs vfs.FS) *pebble.DB {
	t.Helper()
	db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newTestRegistry(t testing.TB) *Registry {
	t.Helper()
	db := openMemDB(t, vfs.NewMem())
	r, err := Open(db, &Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		db.Close()
	})
	return r
}

func exampleDefs(t testing.TB) *def.Definitions {
	t.Helper()
	d, err := compileText("definitions.textproto", string(rides.Definitions))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestExampleApplies(t *testing.T) {
	r := newTestRegistry(t)
	res, err := r.Apply(exampleDefs(t), ApplyOptions{Description: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Applied || res.Snapshot.Version != 1 {
		t.Fatalf("applied=%t version=%d, want a first version", res.Applied, res.Snapshot.Version)
	}
	s := r.Latest()
	if got := len(s.Defs.Objects()); got != 14 {
		t.Errorf("example has %d objects, want 14", got)
	}
	refs, err := s.Index.ServiceFeatures("trip_completion")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 16 {
		t.Errorf("trip_completion expands to %d features, want 16: %v", len(refs), refs)
	}
	v := s.Index.FeatureView("driver_hourly")
	if v.TTL != 24*time.Hour || len(v.Aggregations) != 1 || v.Aggregations[0].Hop != 5*time.Minute || !v.Online {
		t.Errorf("driver_hourly read back wrong: %+v", v)
	}
	// Relative Parquet paths are kept as written by ParseText (LoadFiles
	// resolves them against the file's directory).
	if p := s.Index.Source("trips").Path; p != "data/trips.parquet" {
		t.Errorf("trips path = %q", p)
	}
}

func TestApplyIsIdempotentAndVersionsAreImmutable(t *testing.T) {
	r := newTestRegistry(t)
	d := exampleDefs(t)
	if _, err := r.Apply(d, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Apply(exampleDefs(t), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied || res.Snapshot.Version != 1 || len(res.Changes) != 0 {
		t.Fatalf("re-applying identical definitions: applied=%t version=%d changes=%d", res.Applied, res.Snapshot.Version, len(res.Changes))
	}
	// Mutating what the caller passed in must not reach the snapshot.
	d.FeatureViews[0].Features[0].Expr = "tampered"
	if got := r.Latest().Index.FeatureView("driver_hourly").Features[0].Expr; got != "conv_rate" {
		t.Fatalf("snapshot shares memory with the applied definitions: expr = %q", got)
	}

	d2 := exampleDefs(t)
	d2.FeatureViews[0].Description = "changed"
	res, err = r.Apply(d2, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Applied || res.Snapshot.Version != 2 || len(res.Changes) != 1 {
		t.Fatalf("applied=%t version=%d changes=%v", res.Applied, res.Snapshot.Version, res.Changes)
	}
	s2 := res.Snapshot
	m, _ := s2.Meta(def.KindFeatureView, "driver_hourly")
	if m.Version != 2 {
		t.Errorf("changed view has version %d, want 2", m.Version)
	}
	m, _ = s2.Meta(def.KindEntity, "driver")
	if m.Version != 1 {
		t.Errorf("unchanged entity has version %d, want 1", m.Version)
	}
	s1, err := r.At(1)
	if err != nil {
		t.Fatal(err)
	}
	if got := s1.Index.FeatureView("driver_hourly").Description; got != "Latest hourly statistics of a driver." {
		t.Errorf("version 1 changed after version 2 was applied: description %q", got)
	}
	if _, err := r.At(3); !errors.Is(err, ErrNotFound) {
		t.Errorf("At(3) = %v, want ErrNotFound", err)
	}
	h, err := r.History(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Version != 2 || h[1].Version != 1 {
		t.Fatalf("history = %+v", h)
	}
	if h[0].ContentHash == h[1].ContentHash || h[0].CreatedAt.Before(h[1].CreatedAt) {
		t.Errorf("history hashes/times not distinct and ordered: %+v", h)
	}
	if h1, _ := r.History(1); len(h1) != 1 || h1[0].Version != 2 {
		t.Errorf("History(1) = %+v", h1)
	}
}

func TestBreakingChangeRefusedAndNothingWritten(t *testing.T) {
	r := newTestRegistry(t)
	if _, err := r.Apply(exampleDefs(t), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	d := exampleDefs(t)
	d.Entities[0].JoinKeys[0].Type = def.String
	// The push source declares its schema, so it must change with the key
	// for the definitions to stay valid.
	for _, s := range d.Sources {
		for i, f := range s.Schema {
			if f.Name == "driver_id" {
				s.Schema[i].Type = def.String
			}
		}
	}
	res, err := r.Apply(d, ApplyOptions{})
	if !errors.Is(err, ErrBreaking) {
		t.Fatalf("err = %v, want ErrBreaking", err)
	}
	if !strings.Contains(err.Error(), `entity "driver": join keys changed from [driver_id INT64] to [driver_id STRING]`) {
		t.Errorf("error does not explain the key change:\n%v", err)
	}
	if res == nil || len(res.Changes) == 0 || r.Latest().Version != 1 {
		t.Fatalf("refused apply: result %+v, latest version %d", res, r.Latest().Version)
	}
	if h, _ := r.History(0); len(h) != 1 {
		t.Fatalf("refused apply wrote a version: %+v", h)
	}
	res, err = r.Apply(d, ApplyOptions{AllowBreaking: true})
	if err != nil || !res.Applied || res.Snapshot.Version != 2 {
		t.Fatalf("allow-breaking apply: %v %+v", err, res)
	}
}

func TestReopenReadsTheSameVersions(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	r, err := Open(db, &Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Apply(exampleDefs(t), ApplyOptions{Description: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	want := res.Snapshot
	r.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openMemDB(t, fs)
	defer db.Close()
	r, err = Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := r.Latest()
	if got.Version != 1 || got.Info.ContentHash != want.Info.ContentHash || got.Info.Description != "v1" {
		t.Fatalf("reopened latest = %+v, want %+v", got.Info, want.Info)
	}
	if !proto.Equal(FromDef(got.Defs), FromDef(want.Defs)) {
		t.Fatal("reopened definitions differ")
	}
}

func TestCorruptDataIsReportedNotPanicked(t *testing.T) {
	fs := vfs.NewMem()
	db := openMemDB(t, fs)
	r, err := Open(db, &Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(exampleDefs(t), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	for name, mutate := range map[string]func(b *pebble.Batch){
		"head":     func(b *pebble.Batch) { b.Set(keyHead, []byte{1, 2, 3}, nil) },
		"manifest": func(b *pebble.Batch) { b.Set(versionKey(1), []byte{0xff, 0xff, 0xff}, nil) },
		"missing":  func(b *pebble.Batch) { b.Set(keyHead, []byte{0, 0, 0, 0, 0, 0, 0, 9}, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			// Each case corrupts the same database and restores it after.
			b := db.NewBatch()
			saveHead, c1, _ := db.Get(keyHead)
			head := append([]byte(nil), saveHead...)
			c1.Close()
			saveMan, c2, _ := db.Get(versionKey(1))
			man := append([]byte(nil), saveMan...)
			c2.Close()
			mutate(b)
			if err := b.Commit(nil); err != nil {
				t.Fatal(err)
			}
			_, err := Open(db, nil)
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Open on corrupt %s = %v, want ErrCorrupt or ErrNotFound", name, err)
			}
			db.Set(keyHead, head, nil)
			db.Set(versionKey(1), man, nil)
		})
	}
	db.Close()
}

func TestWaitSeesNewVersionsAndStopsOnClose(t *testing.T) {
	r := newTestRegistry(t)
	got := make(chan uint64, 1)
	go func() {
		s, err := r.Wait(context.Background(), 0)
		if err != nil {
			got <- 0
			return
		}
		got <- s.Version
	}()
	if _, err := r.Apply(exampleDefs(t), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != 1 {
			t.Fatalf("Wait returned version %d", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after an apply")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Wait(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with cancelled ctx = %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Wait(context.Background(), 1)
		done <- err
	}()
	r.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close = %v, want ErrClosed", err)
	}
}

func TestConcurrentReadersSeeWholeVersions(t *testing.T) {
	r := newTestRegistry(t)
	if _, err := r.Apply(exampleDefs(t), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for ctx.Err() == nil {
				s := r.Latest()
				// Every version has driver_hourly's description equal to
				// "v<version>" (or the original in version 1).
				desc := s.Index.FeatureView("driver_hourly").Description
				if s.Version > 1 && desc != "v"+itoa(s.Version) {
					errc <- errors.New("snapshot " + itoa(s.Version) + " has description " + desc)
					return
				}
			}
			errc <- nil
		}()
	}
	for v := uint64(2); v <= 20; v++ {
		d := exampleDefs(t)
		d.FeatureViews[0].Description = "v" + itoa(v)
		if _, err := r.Apply(d, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for g := 0; g < 4; g++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestLoadFilesResolvesPathsAndOrigins(t *testing.T) {
	dir := t.TempDir()
	a := "entities { name: \"driver\" join_keys { name: \"driver_id\" type: INT64 } }\n" +
		"sources {\n  name: \"s\"\n  parquet { path: \"data/x.parquet\" }\n  timestamp_column: \"ts\"\n}\n"
	b := "# second file\n\nfeature_views {\n  name: \"v\"\n  entities: \"driver\"\n  source: \"nope\"\n  features { name: \"f\" type: DOUBLE }\n}\n"
	if err := os.WriteFile(dir+"/a.textproto", []byte(a), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/b.textproto", []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/notes.md", []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, origins, err := LoadFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.GetSources()[0].GetParquet().GetPath(); got != dir+"/data/x.parquet" {
		t.Errorf("path = %q, want it resolved against the file's directory", got)
	}
	_, err = Compile(p, origins, nil)
	want := dir + `/b.textproto:3: feature_view "v": source: unknown source "nope"`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant  %s", err, want)
	}
	if _, _, err := LoadFiles([]string{dir + "/missing.textproto"}); !errors.Is(err, ErrLoad) {
		t.Errorf("missing file: %v", err)
	}
	empty := t.TempDir()
	if _, _, err := LoadFiles([]string{empty}); err == nil || !strings.Contains(err.Error(), "holds no definitions files") {
		t.Errorf("empty dir: %v", err)
	}
}
