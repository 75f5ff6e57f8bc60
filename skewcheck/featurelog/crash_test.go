package featurelog

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "FEATURELOG_CRASH_DIR"

// crashChild logs continuously into $FEATURELOG_CRASH_DIR, with small
// files published often, until it is killed. Request ids continue from
// $FEATURELOG_CRASH_START so that runs never repeat one.
func crashChild() {
	dir := os.Getenv(crashEnv)
	var start int64
	for _, c := range os.Getenv("FEATURELOG_CRASH_START") {
		start = start*10 + int64(c-'0')
	}
	l, err := Open(Options{Dir: dir, MaxFileBytes: 8 << 10, MaxFileAge: 10 * time.Millisecond, RowGroupRows: 50, Logger: quiet})
	if err != nil {
		os.Exit(2)
	}
	sc := testSchema(nilTB{}, 3, true)
	for g := start; ; g += 20 {
		submitRange(l, sc, g, g+20, 7)
		time.Sleep(100 * time.Microsecond)
	}
}

// nilTB lets testSchema run outside a test; it never fails there.
type nilTB struct{ testing.TB }

func (nilTB) Helper()               {}
func (nilTB) Fatal(args ...any)     { os.Exit(3) }
func (nilTB) Fatalf(string, ...any) { os.Exit(3) }

// TestKill9 kills a logging child process at random moments: only
// complete files are ever visible, and each reads back correctly.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seen := map[int64]bool{}
	for run := 0; run < 4; run++ {
		old, _ := filepath.Glob(filepath.Join(dir, "rank", "*.parquet"))
		publishedBefore := len(old)
		cmd := exec.Command(exe, "-test.run", "^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, "FEATURELOG_CRASH_START="+strconv.Itoa(run*100_000_000))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the child to publish a file of its own (a loaded
		// machine may take a while), then kill it at a random moment.
		published := func() bool {
			files, _ := filepath.Glob(filepath.Join(dir, "rank", "*.parquet"))
			return len(files) > publishedBefore
		}
		for deadline := time.Now().Add(30 * time.Second); !published(); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("child published nothing in 30 s")
			}
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		files, err := List(dir, time.Time{}, time.Time{})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		for _, fi := range files {
			if b := filepath.Base(fi.Path); strings.HasPrefix(b, ".") || strings.HasSuffix(b, ".tmp") {
				t.Fatalf("run %d: List returned a temporary file %s", run, fi.Path)
			}
		}
		before := len(seen)
		seen = map[int64]bool{}
		for _, fi := range files {
			f, err := ReadFile(fi.Path)
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			checkFile(t, f, seen)
		}
		if len(seen) <= before {
			t.Fatalf("run %d: %d rows logged in all, %d before: the child published nothing", run, len(seen), before)
		}
		t.Logf("run %d: %d files, %d rows", run, len(files), len(seen))
	}
}
