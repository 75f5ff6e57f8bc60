package redistest

import (
	"strings"
	"testing"
)

// TestStartServer checks the server answers while the test runs and is
// gone once its cleanup has run.
func TestStartServer(t *testing.T) {
	var addr string
	t.Run("run", func(t *testing.T) {
		url := StartServer(t)
		addr = strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")
		if reply, err := command(addr, "PING"); err != nil || reply != "PONG" {
			t.Fatalf("PING %s = %q, %v", addr, reply, err)
		}
	})
	if _, err := command(addr, "PING"); err == nil {
		t.Fatalf("redis-server at %s still answers after its test ended", addr)
	}
}

func TestStartCluster(t *testing.T) {
	var addrs []string
	t.Run("run", func(t *testing.T) {
		url := StartCluster(t, 3)
		addrs = strings.Split(strings.TrimPrefix(url, "redis-cluster://"), ",")
		if len(addrs) != 3 {
			t.Fatalf("URL %q has %d nodes, want 3", url, len(addrs))
		}
		for _, a := range addrs {
			info, err := command(a, "CLUSTER INFO")
			if err != nil || !clusterReady(info, 3) {
				t.Fatalf("CLUSTER INFO %s = %q, %v", a, info, err)
			}
		}
	})
	for _, a := range addrs {
		if _, err := command(a, "PING"); err == nil {
			t.Errorf("cluster node %s still answers after its test ended", a)
		}
	}
}
