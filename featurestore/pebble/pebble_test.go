package pebble_test

import (
	"testing"

	pdb "github.com/cockroachdb/pebble/v2"
	"go.uber.org/goleak"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/pebble"
	"github.com/fstore/fstore/featurestore/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformance runs the online-store conformance suite on the embedded
// store over a real Pebble database on disk.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) featurestore.OnlineStore {
		db, err := pdb.Open(t.TempDir(), &pdb.Options{Logger: quiet{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s := pebble.New(db, nil)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

type quiet struct{}

func (quiet) Infof(string, ...any)      {}
func (quiet) Errorf(string, ...any)     {}
func (quiet) Fatalf(f string, a ...any) { panic(f) }
