//go:build linux && !arm

package backfill

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing bytes [off, off+n) of f
// to disk now, without waiting for them: the output is written to disk
// while the rest of it is computed, and the sync before its rename finds
// little left to do (RocksDB's bytes_per_sync). Failure is harmless; the
// sync at commit still writes whatever is left.
func startWriteback(f *os.File, off, n int64) {
	if n <= 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	const syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE
	rc.Control(func(fd uintptr) { syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite) })
}
