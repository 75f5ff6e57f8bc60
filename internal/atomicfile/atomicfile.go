// Package atomicfile writes whole files atomically: a reader sees the old
// file or the new one, never a part, and a crash leaves no partial file at
// the path.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path through a temporary file in the same
// directory: written, fsynced, given perm, renamed over path, and then the
// directory fsynced so that the rename is durable. On error path is
// untouched and the temporary file removed.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		// A failure here leaves a complete file, so it is not reported.
		d.Sync()
		d.Close()
	}
	return nil
}
