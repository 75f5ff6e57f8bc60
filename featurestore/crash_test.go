package featurestore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
)

const (
	crashHour = int64(time.Hour / time.Microsecond)
	crashT1   = 20 * crashHour
	crashT2   = 40 * crashHour
)

// crashDefs writes a history of many entities under dir and returns the
// definitions' index.
func crashSetup(t testing.TB, dir string) *def.Index {
	t.Helper()
	src := filepath.Join(dir, "src")
	if _, err := os.Stat(src); err != nil {
		os.MkdirAll(src, 0o755)
		r := rand.New(rand.NewPCG(7, 7))
		for f := range 2 {
			var rows []parityRow
			for range 60_000 {
				rows = append(rows, parityRow{K: ptr(r.Int64N(20_000)), TS: ptr(r.Int64N(crashT2 + crashHour)), X: ptr(float64(r.IntN(1000)) / 8), N: ptr(r.Int64N(100))})
			}
			if err := parquet.WriteFile(filepath.Join(src, fmt.Sprintf("part-%d.parquet", f)), rows, parquet.MaxRowsPerRowGroup(8192)); err != nil {
				t.Fatal(err)
			}
		}
	}
	text := fmt.Sprintf(parityViews, "", "")
	text = strings.Replace(text, `path: "src"`, `path: "`+src+`"`, 1)
	p, err := registry.ParseText("defs", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return def.NewIndex(d)
}

// TestMaterializeCrashChild is the child process of TestMaterializeCrash:
// it materialises in small batches and reports each one on stdout until
// the parent kills it.
func TestMaterializeCrashChild(t *testing.T) {
	dir := os.Getenv("FSTORE_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestMaterializeCrash")
	}
	ix := crashSetup(t, dir)
	st, err := featurestore.Open(filepath.Join(dir, "data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = featurestore.Materialize(context.Background(), ix, st.Online(), featurestore.MaterializeOptions{
		End: time.UnixMicro(crashT2), BatchSize: 16, Workers: 1,
		Progress: func(p featurestore.MaterializeProgress) {
			if p.Phase == "write" {
				fmt.Printf("written %d of %d\n", p.Done, p.Total)
				time.Sleep(200 * time.Microsecond) // give the parent time to kill mid-way
			}
		},
	})
	t.Fatalf("the child finished (%v) before it was killed", err)
}

// TestMaterializeCrash kills an incremental materialisation mid-way (a
// child process, SIGKILL), checks the store is readable, reruns it, and
// compares the state byte for byte with the same two materialisations run
// without a crash, and read for read with one full materialisation.
func TestMaterializeCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	ix := crashSetup(t, dir)
	ctx := context.Background()
	materialize := func(dataDir string, end int64, full bool) {
		t.Helper()
		st, err := featurestore.Open(dataDir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := featurestore.Materialize(ctx, ix, st.Online(), featurestore.MaterializeOptions{End: time.UnixMicro(end), Full: full}); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	materialize(data, crashT1, false)

	cmd := exec.Command(os.Args[0], "-test.run=^TestMaterializeCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FSTORE_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		var done, total int
		if _, err := fmt.Sscanf(sc.Text(), "written %d of %d", &done, &total); err == nil && done >= total/3 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
	}
	go func() { // drain so the child never blocks on a full pipe
		for sc.Scan() {
		}
	}()
	cmd.Wait()
	if !killed {
		t.Fatalf("the child ended before it could be killed; stderr:\n%s", stderr.String())
	}

	// The store is readable, the watermark has not moved, and some
	// entities already hold the new state.
	st, err := featurestore.Open(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	ov, err := featurestore.CompileOnline(ix, ix.FeatureView("v"))
	if err != nil {
		t.Fatal(err)
	}
	wm, err := featurestore.ReadWatermark(ctx, st.Online(), ov)
	if err != nil || wm.Through != crashT1 {
		t.Fatalf("watermark after the crash: %+v, %v; want through %d", wm, err, crashT1)
	}
	var keys compute.Column
	keys.Reset(def.Int64, 20_000)
	for i := range keys.I64 {
		keys.I64[i] = int64(i)
	}
	var r featurestore.ReadResult
	if err := featurestore.Read(ctx, st.Online(), ov, []*compute.Column{&keys}, keys.Len, crashT2, &r); err != nil {
		t.Fatal(err)
	}
	st.Close()
	advanced := 0
	for i := range keys.Len {
		if r.EventTS[i] > crashT1 {
			advanced++
		}
	}
	if advanced == 0 {
		t.Fatalf("no entity holds an event after %d: the child was not killed mid-way", crashT1)
	}

	materialize(data, crashT2, false)
	clean := filepath.Join(dir, "clean")
	materialize(clean, crashT1, false)
	materialize(clean, crashT2, false)
	full := filepath.Join(dir, "full")
	materialize(full, crashT2, true)
	for _, at := range []int64{crashT2, crashT2 + crashHour/2, crashT2 + 2*crashHour} {
		if a, b := readAll(t, data, ov, &keys, at), readAll(t, full, ov, &keys, at); a != b {
			t.Fatalf("reads at %d after the rerun differ from a full materialisation", at)
		}
	}
	a, b := dumpState(t, data, ov), dumpState(t, clean, ov)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("after the rerun %d entities, a clean run %d", len(a), len(b))
	}
	for k, v := range b {
		if a[k] != v {
			t.Fatalf("entity %x differs after the rerun:\n rerun %x\n clean %x", k, a[k], v)
		}
	}
}

// readAll reads every key at t and renders values and statuses.
func readAll(t *testing.T, dataDir string, ov *featurestore.OnlineView, keys *compute.Column, at int64) string {
	t.Helper()
	st, err := featurestore.Open(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var r featurestore.ReadResult
	if err := featurestore.Read(context.Background(), st.Online(), ov, []*compute.Column{keys}, keys.Len, at, &r); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range keys.Len {
		for o := range ov.Outputs {
			fmt.Fprintf(&b, "%v/%s ", r.Values[o].Value(i), r.Status[o][i])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// dumpState returns every entity value of ov in the data directory.
func dumpState(t *testing.T, dataDir string, ov *featurestore.OnlineView) map[string]string {
	t.Helper()
	st, err := featurestore.Open(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := map[string]string{}
	err = st.Online().Scan(context.Background(), ov.Prefix(), func(k, v []byte) error {
		m[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
