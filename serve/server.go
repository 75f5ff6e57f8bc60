package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/lograte"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
	"github.com/fstore/fstore/third_party/oip/inference"
)

// MaxGRPCMessage bounds one gRPC request: model artifacts are registered
// through it. 64 MiB.
const MaxGRPCMessage = 64 << 20

// Config configures Run. Store is required; every other field has a
// default.
type Config struct {
	// Store is the open data directory to serve. Required.
	Store *featurestore.Store
	// Online is the online store features are read from and pushed to.
	// Default Store.Online() (the data directory's Pebble). The server
	// does not close it.
	Online featurestore.OnlineStore
	// HTTPAddr is the fasthttp listen address. Default ":6566".
	HTTPAddr string
	// GRPCAddr is the gRPC listen address. Default ":6570".
	GRPCAddr string
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// ShutdownTimeout bounds the drain of in-flight requests once the
	// context is cancelled. Default 10s.
	ShutdownTimeout time.Duration
	// MaxRequestBodySize bounds HTTP request bodies; a larger body is
	// answered 413 JSON. Default 4 MiB.
	MaxRequestBodySize int
	// MaxHeaderSize bounds an HTTP request's line and headers together (it
	// is fasthttp's read buffer); larger ones are answered 431 JSON.
	// Default 8 KiB (nginx's per-line default); each connection holds a
	// read buffer of this size.
	MaxHeaderSize int
	// LogRepeatInterval is the least time between two log lines of the same
	// failure (endpoint, status, error kind): the first is logged at once,
	// later ones at most once per interval with the count suppressed, and
	// the rest at shutdown. Default 10s.
	LogRepeatInterval time.Duration
	// Limits bound each feature request and push.
	Limits Limits
	// Now is the clock requests are evaluated at (freshness under TTLs,
	// windows). Default time.Now; a fixed clock replays a past moment
	// (demos, tests).
	Now func() time.Time
	// OnListen, if set, is called with the bound addresses once both
	// servers accept connections (useful with port 0).
	OnListen func(httpAddr, grpcAddr net.Addr)
	// Batching is every model version's dynamic-batching and queue policy.
	Batching BatchPolicy
	// Skew configures feature logging and drift monitoring (which
	// services log and are monitored is in their definitions).
	Skew SkewConfig
}

// EnsureDefaults fills unset fields.
func (c *Config) EnsureDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":6566"
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = ":6570"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.MaxRequestBodySize == 0 {
		c.MaxRequestBodySize = 4 << 20
	}
	if c.MaxHeaderSize == 0 {
		c.MaxHeaderSize = 8 << 10
	}
	if c.LogRepeatInterval == 0 {
		c.LogRepeatInterval = 10 * time.Second
	}
	c.Batching.EnsureDefaults()
}

// JSONMarshaler is how the REST gateway and the CLI's -o json write
// protobuf messages: field names as in the .proto files (snake_case, as in
// definition files), enums by name. It reads enums in short form too.
var JSONMarshaler = lenientJSON{&runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}}

// lenientJSON reads request bodies with registry.UnmarshalJSON, so that
// definitions sent over REST may use "DOUBLE" for "VALUE_TYPE_DOUBLE" as
// definition files do.
type lenientJSON struct{ *runtime.JSONPb }

func (l lenientJSON) Unmarshal(data []byte, v any) error {
	if m, ok := v.(proto.Message); ok {
		return registry.UnmarshalJSON(data, m)
	}
	return l.JSONPb.Unmarshal(data, v)
}

func (l lenientJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		// Bodies are bounded by the HTTP server's MaxRequestBodySize.
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return l.Unmarshal(b, v)
	})
}

// Run serves until ctx is cancelled, then stops accepting, drains in-flight
// requests for up to ShutdownTimeout, and returns. It returns early with an
// error if a listener cannot be opened.
func Run(ctx context.Context, cfg Config) error {
	cfg.EnsureDefaults()
	if cfg.Store == nil {
		return errors.New("serve: Config.Store is required")
	}
	log := cfg.Logger
	reg := cfg.Store.Registry()
	online := cfg.Online
	if online == nil {
		online = cfg.Store.Online()
	}

	grpcLn, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("serve: cannot listen for gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLn.Close()
		return fmt.Errorf("serve: cannot listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}

	stopping, stop := context.WithCancel(context.Background())
	defer stop()
	regSrv := NewRegistryServer(reg)
	regSrv.stopping = stopping
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(MaxGRPCMessage))
	fstorev1.RegisterRegistryServiceServer(gs, regSrv)
	fs := newFeatureServer(online, reg, cfg.Limits, log, cfg.Now)
	fs.logLim, err = lograte.New(&lograte.Options{Interval: cfg.LogRepeatInterval})
	if err != nil {
		grpcLn.Close()
		httpLn.Close()
		return fmt.Errorf("serve: Config.LogRepeatInterval: %w", err)
	}
	defer fs.logLim.Flush(func(k lograte.Key, n int64) {
		log.Warn("request failed (repeats)", "endpoint", k.Endpoint, "status", k.Status, "kind", k.Kind, "suppressed", n)
	})
	httpLogLim, _ := lograte.New(&lograte.Options{Interval: cfg.LogRepeatInterval})
	defer httpLogLim.Flush(func(k lograte.Key, n int64) {
		log.Warn("fasthttp (repeats)", "component", "fasthttp", "format", k.Kind, "suppressed", n)
	})
	sk := newSkewer(cfg.Skew, cfg.Store, log)
	fs.enableSkew(sk, reg.Latest())
	fs.m.reg.MustRegister(sk.collector())
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := sk.close(c); err != nil {
			log.Warn("feature logs did not close cleanly", "err", err)
		}
	}()
	fstorev1.RegisterServingServiceServer(gs, servingServer{fs: fs})
	ms := newModelServer(cfg.Store, cfg.Batching, log)
	defer ms.close()
	if err := ms.loadAll(); err != nil {
		grpcLn.Close()
		httpLn.Close()
		return fmt.Errorf("serve: cannot load model versions: %w", err)
	}
	modelSrv := NewModelServer(cfg.Store)
	modelSrv.onRegister = func(mv *fstorev1.ModelVersion) {
		ms.add(mv)
		// A new version may carry a newer training-set baseline for its
		// feature service's monitor.
		if mv.GetFeatureBaselinePath() != "" {
			fs.load(reg.Latest())
		}
	}
	fstorev1.RegisterModelServiceServer(gs, modelSrv)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)

	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, JSONMarshaler),
		runtime.WithErrorHandler(gatewayError),
		runtime.WithRoutingErrorHandler(gatewayRoutingError),
		runtime.WithMiddlewares(probeMiddleware),
	)
	err = fstorev1.RegisterRegistryServiceHandlerServer(ctx, gw, regSrv)
	if err == nil {
		err = fstorev1.RegisterModelServiceHandlerServer(ctx, gw, modelSrv)
	}
	if err != nil {
		grpcLn.Close()
		httpLn.Close()
		return fmt.Errorf("serve: cannot mount the REST gateway: %w", err)
	}
	// Requests reach the gateway with a server-lifetime context instead of
	// the fasthttp RequestCtx that the adaptor passes: RequestCtx.Done reads
	// a server field that Server.ShutdownWithContext writes without
	// synchronisation (a data race in fasthttp v1.74.0, seen under -race
	// when the gateway derives a cancellable context from it). fasthttp
	// cancels that context only at shutdown anyway; reqCtx is cancelled when
	// the drain gives up.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	gwHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw.ServeHTTP(w, r.WithContext(reqCtx))
	})
	fs.base = reqCtx
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	front := &front{
		gateway: adapt(gwHandler),
		metrics: adapt(promhttp.HandlerFor(fs.m.reg, promhttp.HandlerOpts{})),
		fs:      fs,
		ms:      ms,
		log:     log,
	}
	inference.RegisterGRPCInferenceServiceServer(gs, &inferenceServer{fs: fs, ms: ms, ready: front.ready.Load})
	hsrv := &fasthttp.Server{
		Handler:                      front.handle,
		Name:                         "fstore",
		MaxRequestBodySize:           cfg.MaxRequestBodySize,
		ReadBufferSize:               cfg.MaxHeaderSize,
		ErrorHandler:                 requestErrors{maxBody: cfg.MaxRequestBodySize, maxHeader: cfg.MaxHeaderSize}.handle,
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 30 * time.Second,
		IdleTimeout:                  2 * time.Minute,
		NoDefaultServerHeader:        false,
		DisablePreParseMultipartForm: true,
		Logger:                       slogPrintf{log, httpLogLim},
	}

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(3)
	go func() {
		defer wg.Done()
		fs.watch(watchCtx, reg)
	}()
	go func() {
		defer wg.Done()
		if err := gs.Serve(grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			errc <- fmt.Errorf("serve: gRPC: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := hsrv.Serve(httpLn); err != nil {
			errc <- fmt.Errorf("serve: HTTP: %w", err)
		}
	}()

	advertised := advertiseAddr(grpcLn.Addr())
	unadvertise, err := cfg.Store.AdvertiseServer(advertised)
	if err != nil {
		log.Warn("cannot record the server address in the data directory; CLI commands will need --server", "err", err)
		unadvertise = func() {}
	}
	unadvertiseHTTP, err := cfg.Store.AdvertiseHTTP(advertiseAddr(httpLn.Addr()))
	if err != nil {
		log.Warn("cannot record the HTTP address in the data directory; fstore skew status will need --url", "err", err)
		unadvertiseHTTP = func() {}
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	front.ready.Store(true)
	log.Info("fstore serving", "http", httpLn.Addr().String(), "grpc", grpcLn.Addr().String(),
		"data_dir", cfg.Store.Dir(), "registry_version", reg.Latest().Version)
	if cfg.OnListen != nil {
		cfg.OnListen(httpLn.Addr(), grpcLn.Addr())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// Stop advertising readiness first so that load balancers drain us.
	front.ready.Store(false)
	stop() // ends Watch streams, which graceful stop would otherwise wait for
	hs.Shutdown()
	unadvertise()
	unadvertiseHTTP()
	log.Info("fstore shutting down", "drain_timeout", cfg.ShutdownTimeout)

	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	if err := hsrv.ShutdownWithContext(drainCtx); err != nil {
		log.Warn("HTTP drain did not finish", "err", err)
	}
	select {
	case <-stopped:
	case <-drainCtx.Done():
		log.Warn("gRPC drain timed out; closing remaining streams")
		gs.Stop()
		<-stopped
	}
	cancelRequests()
	stopWatch()
	wg.Wait()
	log.Info("fstore stopped")
	return runErr
}

// advertiseAddr turns a listener address into one a local client can dial:
// an unspecified IP (":6570") becomes loopback.
func advertiseAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// front routes fasthttp requests.
type front struct {
	gateway fasthttp.RequestHandler
	metrics fasthttp.RequestHandler
	fs      *featureServer
	ms      *modelServer
	ready   atomic.Bool
	log     *slog.Logger
}

var (
	pathHealthz  = []byte("/healthz")
	pathReadyz   = []byte("/readyz")
	prefixV1Reg  = []byte("/v1/registry")
	prefixV1Mod  = []byte("/v1/models")
	pathPredict  = []byte("/v1/predict")
	pathGetFeat  = []byte("/get-online-features")
	pathPush     = []byte("/push")
	pathMetrics  = []byte("/metrics")
	pathSkew     = []byte("/v1/skew")
	jsonNotReady = []byte(`{"status":"not ready"}`)
)

func (f *front) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch {
	case bytes.Equal(path, pathGetFeat):
		f.fs.getOnlineFeatures(ctx)
	case bytes.Equal(path, pathPush):
		f.fs.push(ctx)
	case bytes.Equal(path, pathMetrics):
		f.metrics(ctx)
	case bytes.Equal(path, pathHealthz):
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	case bytes.Equal(path, pathReadyz):
		ctx.SetContentType("application/json")
		if !f.ready.Load() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBody(jsonNotReady)
			return
		}
		ctx.SetBodyString(`{"status":"ready"}`)
	case bytes.Equal(path, pathPredict):
		f.predict(ctx)
	case bytes.Equal(path, pathSkew):
		f.skew(ctx)
	case bytes.HasPrefix(path, prefixV2):
		f.oip(ctx)
	case bytes.HasPrefix(path, prefixV1Reg), bytes.HasPrefix(path, prefixV1Mod):
		f.gateway(ctx)
	default:
		writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("no route for %s %s", ctx.Method(), path))
	}
}

// slogPrintf adapts slog to fasthttp's Printf logger. fasthttp logs every
// connection that ends in an error (a body over the limit, a malformed
// request), so a client can flood the log: lines are rate-limited per
// format string (the class of message; the arguments carry addresses and
// per-request detail).
type slogPrintf struct {
	l   *slog.Logger
	lim *lograte.Limiter
}

func (s slogPrintf) Printf(format string, args ...any) {
	if ok, n := s.lim.Allow(lograte.Key{Endpoint: "fasthttp", Kind: format}); ok {
		s.l.Warn(fmt.Sprintf(format, args...), "component", "fasthttp", "suppressed", n)
	}
}
