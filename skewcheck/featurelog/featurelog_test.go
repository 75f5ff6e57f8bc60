package featurelog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"go.uber.org/goleak"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		crashChild()
		return
	}
	goleak.VerifyTestMain(m)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testSchema(t testing.TB, version uint64, model bool) *Schema {
	t.Helper()
	s, err := NewSchema(Schema{
		Service:         "rank",
		RegistryVersion: version,
		Keys:            []def.Field{{Name: "driver_id", Type: def.Int64}, {Name: "city", Type: def.String}},
		Context:         []def.Field{{Name: "surge", Type: def.Double}, {Name: "vip", Type: def.Bool}, {Name: "at", Type: def.Timestamp}},
		Features: []def.Field{{Name: "hourly__conv", Type: def.Double}, {Name: "hourly__trips", Type: def.Int64},
			{Name: "profile__segment", Type: def.String}, {Name: "req__long", Type: def.Bool}},
		Model: model,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// src holds one request's columns, as serve has them.
type src struct {
	driver, city, surge, vip, at compute.Column
	conv, trips, seg, long       compute.Column
}

func newSrc(n int) *src {
	s := &src{}
	mk := func(c *compute.Column, t def.ValueType) {
		*c = compute.Column{Type: t, Len: n, I64: make([]int64, n), F64: make([]float64, n), B: make([]bool, n), S: make([]string, n), Valid: make(compute.Bitmap, (n+63)/64)}
	}
	mk(&s.driver, def.Int64)
	mk(&s.city, def.String)
	mk(&s.surge, def.Double)
	mk(&s.vip, def.Bool)
	mk(&s.at, def.Timestamp)
	mk(&s.conv, def.Double)
	mk(&s.trips, def.Int64)
	mk(&s.seg, def.String)
	mk(&s.long, def.Bool)
	return s
}

// want is the expected content of one logged row, derived from its
// sequence number g: a deterministic mix of values and nulls.
func fill(s *src, i int, g int64) {
	set := func(c *compute.Column, ok bool) {
		if ok {
			c.Valid.Set(i)
		} else {
			c.Valid.Clear(i)
		}
	}
	s.driver.I64[i] = g
	set(&s.driver, g%7 != 3)
	s.city.S[i] = fmt.Sprintf("city-%d", g%5)
	set(&s.city, true)
	s.surge.F64[i] = float64(g) / 4
	set(&s.surge, g%3 != 0)
	s.vip.B[i] = g%2 == 0
	set(&s.vip, true)
	s.at.I64[i] = 1_700_000_000_000_000 + g
	set(&s.at, true)
	s.conv.F64[i] = float64(g) * 0.5
	set(&s.conv, g%4 != 1)
	s.trips.I64[i] = g * 10
	set(&s.trips, true)
	s.seg.S[i] = strings.Repeat("s", int(g%4))
	set(&s.seg, g%6 != 2)
	s.long.B[i] = g%5 == 0
	set(&s.long, true)
}

const baseTS = int64(1_800_000_000_000_000)

// addRow logs row i of s as request g.
func addRow(b *Batch, s *src, i int, g int64) {
	r := b.AddRow(fmt.Sprintf("req-%d", g), baseTS+g)
	b.SetKey(r, 0, &s.driver, i)
	b.SetKey(r, 1, &s.city, i)
	b.SetContext(r, 0, &s.surge, i)
	b.SetContext(r, 1, &s.vip, i)
	b.SetContext(r, 2, &s.at, i)
	st := featurestore.Status(0)
	if s.conv.Null(i) {
		st = featurestore.OutsideMaxAge
	}
	b.SetFeature(r, 0, &s.conv, i, st, baseTS+g-1000)
	b.SetFeature(r, 1, &s.trips, i, featurestore.Present, baseTS+g-2000)
	b.SetFeature(r, 2, &s.seg, i, 0, 0)
	b.SetFeature(r, 3, &s.long, i, 0, 0)
	if b.schema.Model {
		b.SetModel(r, "ep", "m", g%3, float64(g)/100)
	}
}

// submitRange logs requests [lo, hi) in batches of per rows.
func submitRange(l *Logger, sc *Schema, lo, hi int64, per int) {
	s := newSrc(per)
	for g := lo; g < hi; {
		b := Acquire(sc)
		for i := 0; i < per && g < hi; i++ {
			fill(s, i, g)
			addRow(b, s, i, g)
			g++
		}
		l.Submit(b)
	}
}

// checkFile asserts that every row of f is the one fill made for its
// request id.
func checkFile(t testing.TB, f *File, seen map[int64]bool) {
	t.Helper()
	s := newSrc(1)
	for r := 0; r < f.Rows; r++ {
		var g int64
		if _, err := fmt.Sscanf(f.RequestID[r], "req-%d", &g); err != nil {
			t.Fatalf("%s row %d: request_id %q", f.Path, r, f.RequestID[r])
		}
		if seen != nil {
			if seen[g] {
				t.Fatalf("%s: request %d logged twice", f.Path, g)
			}
			seen[g] = true
		}
		fill(s, 0, g)
		if f.RequestTS[r] != baseTS+g {
			t.Fatalf("%s row %d: request_ts %d", f.Path, r, f.RequestTS[r])
		}
		eq := func(name string, got, want *compute.Column) {
			t.Helper()
			if gv, wv := got.Value(r), want.Value(0); gv != wv {
				t.Fatalf("%s row %d (request %d): %s = %v, want %v", f.Path, r, g, name, gv, wv)
			}
		}
		eq("driver_id", f.Keys[0], &s.driver)
		eq("city", f.Keys[1], &s.city)
		eq("surge", f.Context[0], &s.surge)
		eq("vip", f.Context[1], &s.vip)
		eq("at", f.Context[2], &s.at)
		eq("conv", f.Features[0].Value, &s.conv)
		eq("trips", f.Features[1].Value, &s.trips)
		eq("segment", f.Features[2].Value, &s.seg)
		eq("long", f.Features[3].Value, &s.long)
		wantConv := featurestore.Present
		if s.conv.Null(0) {
			wantConv = featurestore.OutsideMaxAge
		}
		wantSeg := featurestore.Present
		if s.seg.Null(0) {
			wantSeg = featurestore.NullValue
		}
		for k, w := range []featurestore.Status{wantConv, featurestore.Present, wantSeg, featurestore.Present} {
			if got := f.Features[k].Status[r]; got != w {
				t.Fatalf("%s row %d: %s status %s, want %s", f.Path, r, f.Features[k].Name, got, w)
			}
		}
		if v := f.Features[0].EventTS.Value(r); v != compute.Timestamp(baseTS+g-1000) {
			t.Fatalf("%s row %d: conv event_ts %v", f.Path, r, v)
		}
		if v := f.Features[2].EventTS.Value(r); v != nil {
			t.Fatalf("%s row %d: segment event_ts %v, want null", f.Path, r, v)
		}
		if f.Model != nil {
			if f.Model.Endpoint.Value(r) != "ep" || f.Model.ModelVersion.Value(r) != g%3 || f.Model.Prediction.Value(r) != float64(g)/100 {
				t.Fatalf("%s row %d: model columns %v %v %v", f.Path, r, f.Model.Endpoint.Value(r), f.Model.ModelVersion.Value(r), f.Model.Prediction.Value(r))
			}
		}
	}
}

// readAll lists dir and reads every file, checking each row; it returns
// the request ids seen.
func readAll(t testing.TB, dir string) ([]FileInfo, map[int64]bool) {
	t.Helper()
	files, err := List(dir, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, fi := range files {
		f, err := ReadFile(fi.Path)
		if err != nil {
			t.Fatal(err)
		}
		if int64(f.Rows) != fi.Meta.Rows {
			t.Fatalf("%s: %d rows, metadata %d", fi.Path, f.Rows, fi.Meta.Rows)
		}
		checkFile(t, f, seen)
	}
	return files, seen
}

func open(t testing.TB, o Options) *Logger {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, RowGroupRows: 100})
	sc := testSchema(t, 7, true)
	submitRange(l, sc, 0, 1000, 13)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, seen := readAll(t, dir)
	if len(files) != 1 || len(seen) != 1000 {
		t.Fatalf("%d files, %d rows; want 1 file of 1000", len(files), len(seen))
	}
	m := files[0].Meta
	if m.Service != "rank" || m.RegistryVersion != 7 || m.Rows != 1000 || !m.FirstRequestTS.Equal(time.UnixMicro(baseTS)) || !m.LastRequestTS.Equal(time.UnixMicro(baseTS+999)) {
		t.Fatalf("metadata %+v", m)
	}
	// Row groups of exactly RowGroupRows rows, though the writer hands
	// rows to Parquet in chunks of another size.
	if pf, err := os.Open(files[0].Path); err != nil {
		t.Fatal(err)
	} else {
		defer pf.Close()
		p, err := parquet.OpenFile(pf, files[0].Size)
		if err != nil {
			t.Fatal(err)
		}
		if rgs := p.RowGroups(); len(rgs) != 10 {
			t.Fatalf("%d row groups, want 10", len(rgs))
		} else {
			for i, rg := range rgs {
				if rg.NumRows() != 100 {
					t.Fatalf("row group %d has %d rows, want 100", i, rg.NumRows())
				}
			}
		}
	}
	if filepath.Dir(files[0].Path) != filepath.Join(dir, "rank") {
		t.Fatalf("file at %s, want under %s/rank", files[0].Path, dir)
	}
	st := l.Stats()
	if st.RowsLogged != 1000 || st.FilesPublished != 1 || st.BytesPublished != files[0].Size || st.QueuedRows != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The time filter keeps files whose request range meets it.
	for _, c := range []struct {
		since, until time.Time
		n            int
	}{
		{time.UnixMicro(baseTS + 999), time.Time{}, 1},
		{time.UnixMicro(baseTS + 1000), time.Time{}, 0},
		{time.Time{}, time.UnixMicro(baseTS - 1), 0},
		{time.UnixMicro(baseTS - 5), time.UnixMicro(baseTS), 1},
	} {
		got, err := List(dir, c.since, c.until)
		if err != nil || len(got) != c.n {
			t.Errorf("List(%v, %v) = %d files, %v; want %d", c.since, c.until, len(got), err, c.n)
		}
	}
	if err := l.Flush(context.Background()); err != ErrClosed {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
}

// waitWritten waits until the writer has taken every submitted row.
func waitWritten(l *Logger) {
	for l.Stats().QueuedRows != 0 {
		time.Sleep(time.Millisecond)
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRotateBySize(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, MaxFileBytes: 16 << 10, RowGroupRows: 64})
	sc := testSchema(t, 1, false)
	submitRange(l, sc, 0, 3000, 10)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, seen := readAll(t, dir)
	if len(files) < 3 || len(seen) != 3000 {
		t.Fatalf("%d files with %d rows; want several files of 3000 rows", len(files), len(seen))
	}
	for i, f := range files[:len(files)-1] {
		// A file is closed at the first batch that takes it past the
		// limit: at most one batch (10 rows) and a row group over.
		if f.Size > 64<<10 {
			t.Errorf("file %d is %d bytes with a 16 KiB limit", i, f.Size)
		}
		if i > 0 && !(files[i-1].Path < f.Path) {
			t.Errorf("files not in name order: %s, %s", files[i-1].Path, f.Path)
		}
		if files[i+1].Meta.FirstRequestTS.Before(f.Meta.LastRequestTS) {
			t.Errorf("file %d starts before file %d ends (name order is time order)", i+1, i)
		}
	}
}

func TestRotateByAgeAndSchema(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Date(2026, 12, 8, 0, 15, 0, 123456000, time.UTC)}
	l := open(t, Options{Dir: dir, MaxFileAge: time.Hour, Now: clock.Now})
	sc := testSchema(t, 1, false)
	submitRange(l, sc, 0, 10, 5)
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := readAll(t, dir)
	if len(files) != 1 || !regexp.MustCompile(`^20261208T001500\.123456Z-[0-9a-z]{8}-000001\.parquet$`).MatchString(filepath.Base(files[0].Path)) {
		t.Fatalf("files %v", files)
	}
	submitRange(l, sc, 10, 20, 5)
	waitWritten(l) // the file opens at the clock's current time
	clock.Add(59 * time.Minute)
	submitRange(l, sc, 20, 30, 5) // still inside the hour: same file
	waitWritten(l)
	clock.Add(time.Minute)
	// The file is an hour old: the writer's ticker publishes it without
	// another batch or a Flush.
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ = readAll(t, dir)
		if len(files) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d files; the hour-old file was not published", len(files))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if files[1].Meta.Rows != 20 {
		t.Fatalf("second file has %d rows, want 20", files[1].Meta.Rows)
	}
	// A new registry version's rows go to a file of their own (both are
	// published at Close).
	submitRange(l, sc, 30, 40, 5)
	submitRange(l, testSchema(t, 2, true), 40, 50, 5)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, seen := readAll(t, dir)
	if len(files) != 4 || len(seen) != 50 {
		t.Fatalf("%d files, %d rows; want 4 files, 50 rows", len(files), len(seen))
	}
	if files[2].Meta.RegistryVersion != 1 || files[3].Meta.RegistryVersion != 2 || files[3].Meta.Columns[len(files[3].Meta.Columns)-1].Name != "prediction" {
		t.Fatalf("versions %d, %d", files[2].Meta.RegistryVersion, files[3].Meta.RegistryVersion)
	}
}

// TestQueueFull stalls the writer and floods the queue: Submit returns at
// once every time and drops exactly the rows that do not fit.
func TestQueueFull(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	var stalled atomic.Bool
	l := open(t, Options{Dir: dir, QueueRows: 100})
	// The writer reads the hook after receiving the first batch, which
	// the Submit below sends after this assignment.
	l.hook = func() {
		if stalled.CompareAndSwap(false, true) {
			<-release
		}
	}
	sc := testSchema(t, 1, false)
	submitRange(l, sc, 0, 10, 10) // taken by the writer, which stalls
	for l.queued.Load() != 10 || !stalled.Load() {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	submitRange(l, sc, 10, 10+5000, 10)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("flooding took %s", d)
	}
	st := l.Stats()
	// 10 rows held by the stalled writer, 90 more fit, 4910 dropped.
	if st.RowsDroppedQueueFull != 4910 || st.QueuedRows != 100 {
		t.Fatalf("stats %+v; want 4910 dropped, 100 queued", st)
	}
	close(release)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, seen := readAll(t, dir)
	st = l.Stats()
	if len(seen) != 100 || st.RowsLogged != 100 || st.QueuedRows != 0 {
		t.Fatalf("%d rows read, stats %+v", len(seen), st)
	}
	for g := int64(0); g < 100; g++ {
		if !seen[g] {
			t.Fatalf("request %d (queued before the queue filled) missing", g)
		}
	}
}

// TestUnwritable starts with a regular file where the service directory
// goes: writes fail, are counted, and logging recovers once it is fixed.
func TestUnwritable(t *testing.T) {
	dir := t.TempDir()
	block := filepath.Join(dir, "rank")
	if err := os.WriteFile(block, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	var logged strings.Builder
	var mu sync.Mutex
	l := open(t, Options{Dir: dir, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))})
	sc := testSchema(t, 1, false)
	submitRange(l, sc, 0, 30, 10) // first fails, the next two wait for the retry
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.WriteErrors != 1 || st.RowsDroppedWriteError != 30 || st.RowsLogged != 0 {
		t.Fatalf("stats %+v; want 1 write error, 30 rows dropped", st)
	}
	clock.Add(time.Second)
	submitRange(l, sc, 30, 40, 10) // retried: fails again
	l.Flush(context.Background())
	if st = l.Stats(); st.WriteErrors != 2 || st.RowsDroppedWriteError != 40 {
		t.Fatalf("stats %+v; want 2 write errors, 40 rows dropped", st)
	}
	mu.Lock()
	if n := strings.Count(logged.String(), "cannot write feature log"); n != 1 {
		t.Errorf("%d log lines for 2 errors within 10 s, want 1 (rate-limited):\n%s", n, logged.String())
	}
	mu.Unlock()
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	submitRange(l, sc, 40, 60, 10)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, seen := readAll(t, dir)
	st = l.Stats()
	if len(seen) != 20 || st.RowsLogged != 20 || st.WriteErrors != 2 || st.RowsLogged+st.RowsDroppedWriteError != 60 {
		t.Fatalf("%d rows read, stats %+v", len(seen), st)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestConcurrent submits from many goroutines while files rotate; every
// row is logged once (the queue is large enough that none is dropped).
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, MaxFileBytes: 32 << 10, MaxFileAge: 20 * time.Millisecond, QueueRows: 1 << 20})
	sc := testSchema(t, 1, true)
	const workers, per = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			submitRange(l, sc, int64(w*per), int64((w+1)*per), 1+w%4)
		}()
	}
	wg.Wait()
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, seen := readAll(t, dir)
	st := l.Stats()
	if len(seen) != workers*per || st.RowsLogged != workers*per || st.FilesPublished != int64(len(files)) {
		t.Fatalf("%d rows in %d files, stats %+v", len(seen), len(files), st)
	}
	// Submit after Close is dropped and counted, not a panic.
	submitRange(l, sc, 0, 3, 3)
	if st := l.Stats(); st.RowsDroppedInvalid != 3 {
		t.Fatalf("stats %+v after a late submit", st)
	}
}

func TestBatchMisuse(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	sc := testSchema(t, 1, false)
	s := newSrc(1)
	fill(s, 0, 1)
	for name, misuse := range map[string]func(b *Batch, r int){
		"key type":     func(b *Batch, r int) { b.SetKey(r, 0, &s.city, 0) },
		"key index":    func(b *Batch, r int) { b.SetKey(r, 2, &s.driver, 0) },
		"row":          func(b *Batch, r int) { b.SetContext(r+1, 0, &s.surge, 0) },
		"source row":   func(b *Batch, r int) { b.SetContext(r, 0, &s.surge, 1) },
		"status":       func(b *Batch, r int) { b.SetFeature(r, 0, &s.conv, 0, 9, 0) },
		"no model":     func(b *Batch, r int) { b.SetModel(r, "e", "m", 1, 0) },
		"feature type": func(b *Batch, r int) { b.SetFeature(r, 1, &s.conv, 0, 0, 0) },
	} {
		b := Acquire(sc)
		r := b.AddRow("x", 1)
		misuse(b, r)
		if b.Err() == nil {
			t.Errorf("%s: no error", name)
		}
		l.Submit(b)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.RowsDroppedInvalid != 7 || st.FilesPublished != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{}, {Dir: "x", QueueRows: -1}, {Dir: "x", MaxFileBytes: -1}, {Dir: "x", MaxFileAge: -1}, {Dir: "x", RowGroupRows: -1}} {
		if _, err := Open(o); err == nil || !strings.Contains(err.Error(), "featurelog") {
			t.Errorf("Open(%+v) = %v, want an ErrOptions error", o, err)
		}
	}
	for _, s := range []Schema{
		{},
		{Service: "../x"},
		{Service: "a/b"},
		{Service: "s", Keys: []def.Field{{Name: "k", Type: def.Double}}},
		{Service: "s", Keys: []def.Field{{Name: "k", Type: def.Int64}}, Context: []def.Field{{Name: "k", Type: def.Int64}}},
		{Service: "s", Features: []def.Field{{Name: "v__f", Type: def.Int64}, {Name: "v__f__status", Type: def.Int64}}},
		{Service: "s", Features: []def.Field{{Name: "request_ts", Type: def.Int64}}},
		{Service: "s", Context: []def.Field{{Name: "c"}}},
	} {
		if _, err := NewSchema(s); err == nil {
			t.Errorf("NewSchema(%+v) succeeded", s)
		}
	}
}

// TestSharedDirectory: two Loggers (replicas) writing one directory never
// pick the same file name, and a new one sweeps only stale temporary
// files, not another writer's file in progress.
func TestSharedDirectory(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Date(2026, 12, 8, 0, 15, 0, 0, time.UTC)}
	sc := testSchema(t, 1, false)
	svc := filepath.Join(dir, sc.Service)
	if err := os.MkdirAll(svc, 0o755); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(svc, ".in-progress.parquet.tmp")
	stale := filepath.Join(svc, ".crashed.parquet.tmp")
	for _, p := range []string{live, stale} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := clock.now.Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(live, clock.now, clock.now); err != nil {
		t.Fatal(err)
	}
	a := open(t, Options{Dir: dir, Now: clock.Now})
	b := open(t, Options{Dir: dir, Now: clock.Now})
	submitRange(a, sc, 0, 10, 5)
	submitRange(b, sc, 10, 20, 5)
	for _, l := range []*Logger{a, b} {
		if err := l.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := readAll(t, dir)
	if len(files) != 2 || files[0].Path == files[1].Path {
		t.Fatalf("two writers at the same instant: files %v", files)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a fresh temporary file (another writer's) was removed: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a stale temporary file was kept: %v", err)
	}
}
