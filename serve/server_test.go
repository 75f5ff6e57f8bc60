package serve

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/registry"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp keeps one process-wide goroutine that refreshes the
		// Date header, started with the first server.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		// fasthttp's worker-pool cleaner notices Stop only after its idle
		// sleep (10s by default); it exits on its own after that.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

type testServer struct {
	store    *featurestore.Store
	httpURL  string
	grpcAddr string
	client   fstorev1.RegistryServiceClient
	conn     *grpc.ClientConn
	stop     func()
}

// startServer runs a real server on loopback ports chosen by the kernel.
func startServer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with setup run on the open store and the
// configuration before the server starts.
func startServerWith(t testing.TB, setup func(st *featurestore.Store, cfg *Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	st, err := featurestore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Store:    st,
		HTTPAddr: "127.0.0.1:0",
		GRPCAddr: "127.0.0.1:0",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if setup != nil {
		setup(st, &cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	cfg.OnListen = func(h, g net.Addr) { listening <- [2]net.Addr{h, g} }
	go func() {
		done <- Run(ctx, cfg)
	}()
	var addrs [2]net.Addr
	select {
	case addrs = <-listening:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	conn, err := grpc.NewClient(addrs[1].String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{
		store:    st,
		httpURL:  "http://" + addrs[0].String(),
		grpcAddr: addrs[1].String(),
		client:   fstorev1.NewRegistryServiceClient(conn),
		conn:     conn,
	}
	stopped := false
	ts.stop = func() {
		if stopped {
			return
		}
		stopped = true
		conn.Close()
		// Tests talk HTTP through net/http's default client, which keeps
		// connections alive in its pool; closing them first leaves the
		// server's drain nothing to race with (a kept-alive connection
		// accepted as the server shut down was once left open, and
		// goleak flagged both ends).
		http.DefaultClient.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(ts.stop)
	return ts
}

// exampleProto writes the example with a small data set (the registry
// type-checks expressions against the Parquet files) and loads it.
func exampleProto(t *testing.T) *fstorev1.Definitions {
	t.Helper()
	dir := t.TempDir()
	if _, err := rides.Write(dir, rides.Config{Drivers: 10, Riders: 20, Days: 2, SpineRows: 10}); err != nil {
		t.Fatal(err)
	}
	p, _, err := registry.LoadFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func httpGet(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET %s: body is not JSON: %q", url, body)
	}
	return resp.StatusCode, m
}

func TestRegistryOverGRPCAndREST(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()

	if code, m := httpGet(t, ts.httpURL+"/healthz"); code != 200 || m["status"] != "ok" {
		t.Fatalf("/healthz = %d %v", code, m)
	}
	if code, _ := httpGet(t, ts.httpURL+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	hc, err := healthpb.NewHealthClient(ts.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health = %v, %v", hc, err)
	}

	// Watch from before the first apply.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	watch, err := ts.client.Watch(wctx, &fstorev1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}

	resp, err := ts.client.Apply(ctx, &fstorev1.ApplyRequest{Definitions: exampleProto(t), Description: "from test"})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetApplied() || resp.GetVersion().GetVersion() != 1 {
		t.Fatalf("apply: %v", resp)
	}
	got, err := watch.Recv()
	if err != nil || got.GetVersion().GetVersion() != 1 || got.GetVersion().GetDescription() != "from test" {
		t.Fatalf("watch: %v, %v", got, err)
	}

	// REST GET of a feature view returns it as JSON with proto field names.
	code, m := httpGet(t, ts.httpURL+"/v1/registry/feature_views/driver_hourly")
	if code != 200 {
		t.Fatalf("GET feature view: %d %v", code, m)
	}
	obj := m["object"].(map[string]any)
	fv := obj["feature_view"].(map[string]any)
	if fv["name"] != "driver_hourly" || fv["source"] != "driver_stats" || obj["meta"].(map[string]any)["kind"] != "feature_view" {
		t.Fatalf("GET feature view body: %v", m)
	}
	if feats := fv["features"].([]any); len(feats) != 4 || feats[1].(map[string]any)["expr"] != "acc_rate * 100" {
		t.Fatalf("features: %v", fv["features"])
	}
	// Singular kinds work too, and listing.
	if code, _ := httpGet(t, ts.httpURL+"/v1/registry/feature_view/driver_hourly"); code != 200 {
		t.Fatalf("singular kind: %d", code)
	}
	code, m = httpGet(t, ts.httpURL+"/v1/registry/entities")
	if code != 200 || len(m["objects"].([]any)) != 2 {
		t.Fatalf("list entities: %d %v", code, m)
	}
	code, m = httpGet(t, ts.httpURL+"/v1/registry:history")
	if code != 200 || len(m["versions"].([]any)) != 1 {
		t.Fatalf("history: %d %v", code, m)
	}

	// Errors: precise message, 4xx, same JSON shape everywhere.
	code, m = httpGet(t, ts.httpURL+"/v1/registry/feature_views/driver_hourli")
	if code != 404 || !strings.Contains(m["error"].(string), `no feature_view "driver_hourli" in version 1 (did you mean "driver_hourly"?)`) {
		t.Fatalf("unknown view: %d %v", code, m)
	}
	code, m = httpGet(t, ts.httpURL+"/v1/registry/views/x")
	if code != 400 || !strings.Contains(m["error"].(string), `unknown kind "views"`) {
		t.Fatalf("unknown kind: %d %v", code, m)
	}
	code, m = httpGet(t, ts.httpURL+"/v1/registry/entities?version=9")
	if code != 404 {
		t.Fatalf("unknown version: %d %v", code, m)
	}
	code, m = httpGet(t, ts.httpURL+"/nope")
	if code != 404 || m["error"] != "no route for GET /nope" {
		t.Fatalf("unknown route: %d %v", code, m)
	}
	// A bad apply over REST: 400 naming the object and field.
	body := `{"definitions": {"feature_views": [{"name": "v", "entities": ["ghost"], "source": "s", "features": [{"name": "f", "type": "DOUBLE"}]}]}}`
	r, err := http.Post(ts.httpURL+"/v1/registry:apply", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 400 || !strings.Contains(string(b), `feature_view \"v\": entities[0]: unknown entity \"ghost\"`) {
		t.Fatalf("bad apply: %d %s", r.StatusCode, b)
	}
	r, err = http.Post(ts.httpURL+"/v1/registry:apply", "application/json", strings.NewReader(`{"definitions": {"entities": [{"name": 5}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 400 {
		t.Fatalf("malformed JSON apply: %d", r.StatusCode)
	}

	// A breaking change over gRPC: FailedPrecondition with the reason.
	p := exampleProto(t)
	p.FeatureViews[0].Features[2].Type = fstorev1.ValueType_VALUE_TYPE_DOUBLE // avg_daily_trips
	_, err = ts.client.Apply(ctx, &fstorev1.ApplyRequest{Definitions: p})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `feature "avg_daily_trips" changes type from INT64 to DOUBLE`) {
		t.Fatalf("breaking apply: %v", err)
	}
	plan, err := ts.client.Plan(ctx, &fstorev1.PlanRequest{Definitions: p})
	if err != nil || !plan.GetBreaking() || plan.GetBaseVersion() != 1 {
		t.Fatalf("plan: %v %v", plan, err)
	}
}

// TestShutdownEndsWatchersPromptly: a connected watcher must not hold
// shutdown for the whole drain timeout, and the watcher learns the server is
// going away. The stream is proven live on the server (it delivers a
// version) before the server stops, and the client connection stays open,
// so only the server can end it.
func TestShutdownEndsWatchersPromptly(t *testing.T) {
	dir := t.TempDir()
	st, err := featurestore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Store: st, HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", ShutdownTimeout: time.Minute,
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
			OnListen: func(_, g net.Addr) { listening <- g.String() }})
	}()
	conn, err := grpc.NewClient(<-listening, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := fstorev1.NewRegistryServiceClient(conn)
	watch, err := client.Watch(context.Background(), &fstorev1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Apply(context.Background(), &fstorev1.ApplyRequest{Definitions: exampleProto(t)}); err != nil {
		t.Fatal(err)
	}
	if v, err := watch.Recv(); err != nil || v.GetVersion().GetVersion() != 1 {
		t.Fatalf("watch before shutdown: %v %v", v, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // the drain timeout is a minute
		t.Fatal("a connected watcher held shutdown")
	}
	if _, err := watch.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("watcher after shutdown got %v, want Unavailable", err)
	}
}
