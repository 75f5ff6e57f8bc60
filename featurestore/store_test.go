package featurestore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore/registry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpenLocksTheDirectory(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryPersistsAcrossOpens(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if _, err := rides.Write(data, rides.Config{Drivers: 5, Riders: 5, Days: 2, SpineRows: 5}); err != nil {
		t.Fatal(err)
	}
	p, _, err := registry.LoadFiles([]string{data})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Registry().Apply(d, registry.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := s.Registry().Latest().Version; v != 1 {
		t.Fatalf("version after reopen = %d", v)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", nil); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := Open(t.TempDir(), &Options{CacheSize: -1}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("negative cache: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none"), &Options{ReadOnly: true}); err == nil {
		t.Error("read-only open of a missing directory succeeded")
	}
	// A file where the directory should be.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o644)
	if _, err := Open(f, nil); err == nil {
		t.Error("Open on a regular file succeeded")
	}
}

func TestAdvertiseServer(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a, err := AdvertisedServer(dir); err != nil || a != "" {
		t.Fatalf("before advertising: %q %v", a, err)
	}
	undo, err := s.AdvertiseServer("127.0.0.1:6570")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := AdvertisedServer(dir); a != "127.0.0.1:6570" {
		t.Fatalf("advertised = %q", a)
	}
	undo()
	if a, _ := AdvertisedServer(dir); a != "" {
		t.Fatalf("after undo = %q", a)
	}
}
