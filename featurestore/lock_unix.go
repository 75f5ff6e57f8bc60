//go:build unix

package featurestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile names the file fstore locks in a data directory, beside Pebble's
// own LOCK.
const lockFile = "fstore.lock"

// lockDir takes an exclusive flock on dir/fstore.lock. Pebble locks its
// directory with fcntl, which never conflicts within one process and fails
// there with an untyped error; flock conflicts between any two open files,
// in one process or two, so every second Open gets ErrLocked.
func lockDir(dir string) (release func() error, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("featurestore: cannot create %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("featurestore: cannot open lock file in %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (is `fstore serve` running on it? stop it, or send commands to it with --server)", ErrLocked, dir)
		}
		return nil, fmt.Errorf("featurestore: cannot lock %s: %w", dir, err)
	}
	return f.Close, nil // closing the file releases the lock
}
