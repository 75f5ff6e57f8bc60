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

// httpFile names the file in which a running server records its HTTP
// address (the monitoring endpoints, such as /v1/skew, are HTTP only).
const httpFile = "fstore-server.http"

// AdvertiseServer records that a server serves this data directory at the
// gRPC address addr, so that CLI commands which find the directory locked
// can send their requests to it. The returned function removes the record.
func (s *Store) AdvertiseServer(addr string) (func(), error) {
	return s.advertise(serverFile, "server address", addr)
}

// AdvertisedServer returns the gRPC address recorded by the server that
// serves dir, or "" when none is recorded.
func AdvertisedServer(dir string) (string, error) {
	return advertised(dir, serverFile, "server address")
}

// AdvertiseHTTP records the HTTP address a server serves this data
// directory on; the returned function removes the record.
func (s *Store) AdvertiseHTTP(addr string) (func(), error) {
	return s.advertise(httpFile, "server HTTP address", addr)
}

// AdvertisedHTTP returns the HTTP address recorded by the server that
// serves dir, or "" when none is recorded.
func AdvertisedHTTP(dir string) (string, error) {
	return advertised(dir, httpFile, "server HTTP address")
}

// advertise writes addr to the data directory's file name, through a
// temporary file renamed into place; what names the record in errors.
func (s *Store) advertise(name, what, addr string) (func(), error) {
	path := filepath.Join(s.dir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("featurestore: cannot record %s: %w", what, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("featurestore: cannot record %s: %w", what, err)
	}
	return func() { os.Remove(path) }, nil
}

// advertised reads the record name of dir; "" when there is none.
func advertised(dir, name, what string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("featurestore: cannot read %s: %w", what, err)
	}
	return strings.TrimSpace(string(b)), nil
}
