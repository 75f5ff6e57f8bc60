package pebble_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
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
// Run with no row cache, the default one, and one so small that it evicts
// all the time.
func TestConformance(t *testing.T) {
	for _, size := range []int64{0, 128 << 20, 4 << 10} {
		t.Run(fmt.Sprintf("rowcache=%d", size), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) featurestore.OnlineStore {
				return openStore(t, size)
			})
		})
	}
}

func openStore(t *testing.T, rowCache int64) *pebble.Store {
	db, err := pdb.Open(t.TempDir(), &pdb.Options{Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := pebble.New(db, &pebble.Options{RowCacheSize: rowCache})
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRowCacheCoherent races readers against writers (Put, Update,
// Delete) on a few hot keys with a cache small enough to evict, then
// checks that every key reads what Pebble holds: a read that raced a write
// must never leave the older value cached.
func TestRowCacheCoherent(t *testing.T) {
	s := openStore(t, 16<<10)
	ctx := context.Background()
	keys := make([][]byte, 64)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%03d", i))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.Get(ctx, keys, func(int, []byte) {}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 3000; n++ {
		k := keys[rng.IntN(len(keys))]
		var err error
		switch rng.IntN(3) {
		case 0:
			err = s.Put(ctx, [][]byte{k}, [][]byte{[]byte(fmt.Sprint(n))}, 0)
		case 1:
			err = s.Update(ctx, [][]byte{k}, 0, func(int, []byte) ([]byte, error) { return []byte(fmt.Sprint("u", n)), nil })
		default:
			err = s.Delete(ctx, [][]byte{k})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	// Pebble's truth, read key by key without the cache.
	truth := openView(t, s)
	for round := 0; round < 2; round++ { // the second round reads from the cache
		got := map[string]string{}
		if err := s.Get(ctx, keys, func(i int, v []byte) { got[string(keys[i])] = string(v) }); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if got[string(k)] != truth[string(k)] {
				t.Fatalf("round %d: %s reads %q, Pebble holds %q", round, k, got[string(k)], truth[string(k)])
			}
		}
	}
}

// openView returns every live key's value through Scan, which bypasses
// the row cache.
func openView(t *testing.T, s *pebble.Store) map[string]string {
	m := map[string]string{}
	if err := s.Scan(context.Background(), []byte("key-"), func(k, v []byte) error {
		m[string(k)] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

type quiet struct{}

func (quiet) Infof(string, ...any)      {}
func (quiet) Errorf(string, ...any)     {}
func (quiet) Fatalf(f string, a ...any) { panic(f) }
