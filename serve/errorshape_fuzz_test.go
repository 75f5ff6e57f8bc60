package serve

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fstore/fstore/featurestore"
)

// FuzzRawRequest sends arbitrary bytes to a running server as an HTTP
// request: whatever the server answers with an error status is in the
// documented {"error": ...} JSON shape, including what fasthttp refuses
// before any handler runs.
func FuzzRawRequest(f *testing.F) {
	for _, s := range []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{}",
		"POST /push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"DELETE /v1/registry/feature_views HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/registry:apply HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 1200) + "\r\n\r\n",
		"BREW /coffee HTCPCP/1.0\r\n\r\n",
		"GET /\x00 HTTP/1.1\r\n\r\n",
		"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{",
	} {
		f.Add([]byte(s))
	}
	ts := startServerWith(f, func(_ *featurestore.Store, cfg *Config) {
		cfg.MaxRequestBodySize = 1 << 10
		cfg.MaxHeaderSize = 1 << 10
	})
	addr := strings.TrimPrefix(ts.httpURL, "http://")
	f.Fuzz(func(t *testing.T, req []byte) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			conn.Write(req)
			// Half-close: the server sees the end of a truncated request
			// instead of waiting for the rest.
			conn.(*net.TCPConn).CloseWrite()
		}()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return // no answer (an empty request) or a connection reset
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode < 400 {
			return
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("status %d with Content-Type %q: %q", resp.StatusCode, ct, b)
		}
		var e errorBody
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			t.Fatalf("status %d body %q is not {\"error\": ...}: %v", resp.StatusCode, b, err)
		}
	})
}
