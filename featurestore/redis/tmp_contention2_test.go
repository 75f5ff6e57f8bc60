package redis

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/fstore/fstore/internal/redistest"
)

func TestTmpContentionMulti(t *testing.T) {
	url := redistest.StartServer(t)
	for _, nstores := range []int{4, 16} {
		maxAttemptSeen.Store(0)
		start := time.Now()
		var stores []*Store
		for range nstores {
			s, err := Open(url, Timeouts{})
			if err != nil {
				t.Fatal(err)
			}
			stores = append(stores, s)
		}
		keys := [][]byte{[]byte("e\x00\x00\x00\x01hot")}
		_ = stores[0].Delete(context.Background(), keys)
		var wg sync.WaitGroup
		var failed sync.Map
		for g := 0; g < 32; g++ {
			s := stores[g%nstores]
			wg.Go(func() {
				for range 100 {
					err := s.Update(context.Background(), keys, 0, func(_ int, old []byte) ([]byte, error) {
						var n uint64
						if old != nil {
							n = binary.BigEndian.Uint64(old)
						}
						return binary.BigEndian.AppendUint64(nil, n+1), nil
					})
					if err != nil {
						failed.Store(err.Error(), true)
					}
				}
			})
		}
		wg.Wait()
		failed.Range(func(k, _ any) bool { t.Log("ERR", k); return true })
		t.Logf("stores=%d max attempt %d in %v", nstores, maxAttemptSeen.Load(), time.Since(start))
		for _, s := range stores {
			s.Close()
		}
	}
}
