package redis

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/fstore/fstore/internal/redistest"
)

func TestTmpContention(t *testing.T) {
	for _, url := range []string{redistest.StartServer(t), redistest.StartCluster(t, 3)} {
		for _, w := range []int{8, 32, 128} {
			maxAttemptSeen.Store(0)
			start := time.Now()
			s, err := Open(url, Timeouts{})
			if err != nil {
				t.Fatal(err)
			}
			keys := [][]byte{[]byte("e\x00\x00\x00\x01hot")}
			_ = s.Delete(context.Background(), keys)
			var wg sync.WaitGroup
			var failed sync.Map
			for g := 0; g < w; g++ {
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
			t.Logf("%s writers=%d max attempt %d in %v", url[:14], w, maxAttemptSeen.Load(), time.Since(start))
			s.Close()
		}
	}
}
