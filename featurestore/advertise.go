package featurestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// serverFile names the file in a data directory in which a running server
// records the gRPC address it serves that directory on.
const serverFile = "fstore-server.addr"

// AdvertiseServer records that a server serves this data directory at the
// gRPC address addr, so that CLI commands which find the directory locked
// can send their requests to it. The returned function removes the record.
func (s *Store) AdvertiseServer(addr string) (func(), error) {
	path := filepath.Join(s.dir, serverFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("featurestore: cannot record server address: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("featurestore: cannot record server address: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// AdvertisedServer returns the gRPC address recorded by the server that
// serves dir, or "" when none is recorded.
func AdvertisedServer(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, serverFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("featurestore: cannot read server address: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// httpFile names the file in which a running server records its HTTP
// address (the monitoring endpoints, such as /v1/skew, are HTTP only).
const httpFile = "fstore-server.http"

// AdvertiseHTTP records the HTTP address a server serves this data
// directory on; the returned function removes the record.
func (s *Store) AdvertiseHTTP(addr string) (func(), error) {
	path := filepath.Join(s.dir, httpFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("featurestore: cannot record server HTTP address: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("featurestore: cannot record server HTTP address: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// AdvertisedHTTP returns the HTTP address recorded by the server that
// serves dir, or "" when none is recorded.
func AdvertisedHTTP(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, httpFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("featurestore: cannot read server HTTP address: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
