package serve

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/valyala/fasthttp"
	"google.golang.org/grpc/codes"

	"github.com/fstore/fstore/featurestore"
	redisstore "github.com/fstore/fstore/featurestore/redis"
)

// Endpoints, as the "endpoint" label of request metrics.
const (
	epGetOnlineFeatures = iota
	epPush
	epGRPCGetOnlineFeatures
	epGRPCPush
	epInfer
	epPredict
	epGRPCInfer
	numEndpoints
)

var endpointNames = [numEndpoints]string{"/get-online-features", "/push", "grpc:GetOnlineFeatures", "grpc:Push", "/v2/models/infer", "/v1/predict", "grpc:ModelInfer"}

// Status codes the request histogram keeps resolved children for; others
// are looked up on use.
var commonCodes = [...]int{200, 400, 404, 405, 413, 500, 503, 504}

// metrics are the server's Prometheus metrics. Observing on the request
// path allocates nothing: every labelled child the hot path uses is
// resolved when the server starts.
type metrics struct {
	reg        *prometheus.Registry
	latency    *prometheus.HistogramVec
	latencyFor [numEndpoints][len(commonCodes)]prometheus.Observer
	entities   [numEndpoints]prometheus.Observer
	features   [numEndpoints]prometheus.Observer
	storeRd    prometheus.Observer
	storeWr    prometheus.Observer
	errors     *prometheus.CounterVec
	errorsFor  map[string]prometheus.Counter
	reloads    prometheus.Counter
	version    prometheus.Gauge
	quality    qualityMetrics // quality.go
}

// Error kinds, as the "kind" label of fstore_errors_total.
var errorKinds = []string{"bad_request", "not_found", "unavailable", "timeout", "too_large", "internal", "canceled"}

func newMetrics(fs *featureServer) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	latencyBuckets := []float64{50e-6, 100e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fstore_request_duration_seconds",
		Help:    "Time to serve a request, from the request read to the response written, by endpoint and status code (HTTP status; gRPC codes mapped to HTTP statuses).",
		Buckets: latencyBuckets,
	}, []string{"endpoint", "code"})
	sizes := []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}
	ents := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "fstore_request_entities", Help: "Entities (rows) per successful request; events per push.", Buckets: sizes,
	}, []string{"endpoint"})
	feats := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "fstore_request_features", Help: "Features per successful feature request.", Buckets: sizes,
	}, []string{"endpoint"})
	store := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fstore_store_call_duration_seconds",
		Help:    "Time of one online store call: a read of one view for a batch of entities, or the write of one push into one view.",
		Buckets: latencyBuckets,
	}, []string{"op"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fstore_errors_total", Help: "Failed requests by kind of error.",
	}, []string{"kind"})
	m.reloads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fstore_registry_reloads_total", Help: "Registry versions compiled and swapped in while serving.",
	})
	m.version = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fstore_registry_version", Help: "The registry version being served.",
	})
	m.reg.MustRegister(m.latency, ents, feats, store, m.errors, m.reloads, m.version, &freshness{fs: fs})
	m.quality = newQualityMetrics(m.reg)
	if cs, ok := fs.store.(clientCacheStore); ok {
		m.reg.MustRegister(clientCacheMetrics{s: cs})
	}
	for e := 0; e < numEndpoints; e++ {
		for i, c := range commonCodes {
			m.latencyFor[e][i] = m.latency.WithLabelValues(endpointNames[e], strconv.Itoa(c))
		}
		m.entities[e] = ents.WithLabelValues(endpointNames[e])
		m.features[e] = feats.WithLabelValues(endpointNames[e])
	}
	m.storeRd = store.WithLabelValues("read")
	m.storeWr = store.WithLabelValues("push")
	m.errorsFor = map[string]prometheus.Counter{}
	for _, k := range errorKinds {
		m.errorsFor[k] = m.errors.WithLabelValues(k)
	}
	return m
}

// request records one finished request.
func (m *metrics) request(ep, status int, start time.Time, entities, features int) {
	if m == nil {
		return
	}
	d := time.Since(start).Seconds()
	obs := prometheus.Observer(nil)
	for i, c := range commonCodes {
		if c == status {
			obs = m.latencyFor[ep][i]
		}
	}
	if obs == nil {
		obs = m.latency.WithLabelValues(endpointNames[ep], strconv.Itoa(status))
	}
	obs.Observe(d)
	if status == fasthttp.StatusOK {
		m.entities[ep].Observe(float64(entities))
		if features > 0 {
			m.features[ep].Observe(float64(features))
		}
	}
}

func (m *metrics) failed(kind string) {
	if m != nil {
		m.errorsFor[kind].Inc()
	}
}

func (m *metrics) storeRead(d time.Duration) {
	if m != nil {
		m.storeRd.Observe(d.Seconds())
	}
}

func (m *metrics) storeWrite(d time.Duration) {
	if m != nil {
		m.storeWr.Observe(d.Seconds())
	}
}

// errorKind names the kind of a failure for fstore_errors_total.
func errorKind(c codes.Code) string {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition:
		return "bad_request"
	case codes.NotFound:
		return "not_found"
	case codes.Unavailable:
		return "unavailable"
	case codes.DeadlineExceeded:
		return "timeout"
	case codes.ResourceExhausted:
		return "too_large"
	case codes.Canceled:
		return "canceled"
	}
	return "internal"
}

// freshness collects, at scrape time, how far each online view's state
// lags behind: seconds since the end of its latest materialisation and
// since its latest pushed event.
type freshness struct {
	fs *featureServer
}

var (
	freshMaterialized = prometheus.NewDesc("fstore_view_materialized_lag_seconds",
		"Seconds between now and the end of the view's latest materialisation (absent until materialised).", []string{"view"}, nil)
	freshPushed = prometheus.NewDesc("fstore_view_pushed_lag_seconds",
		"Seconds between now and the latest event time pushed to the view (absent until a push).", []string{"view"}, nil)
	scrapeErrors = prometheus.NewDesc("fstore_view_watermark_errors",
		"1 when the view's watermark could not be read at this scrape.", []string{"view"}, nil)
)

func (f *freshness) Describe(ch chan<- *prometheus.Desc) {
	ch <- freshMaterialized
	ch <- freshPushed
	ch <- scrapeErrors
}

func (f *freshness) Collect(ch chan<- prometheus.Metric) {
	cat := f.fs.cat.Load()
	if cat == nil {
		return
	}
	now := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, sv := range cat.views {
		w, err := featurestore.ReadWatermark(ctx, f.fs.store, sv.ov)
		if err != nil {
			ch <- prometheus.MustNewConstMetric(scrapeErrors, prometheus.GaugeValue, 1, name)
			continue
		}
		if w.Materialized() {
			ch <- prometheus.MustNewConstMetric(freshMaterialized, prometheus.GaugeValue, now.Sub(time.UnixMicro(w.Through)).Seconds(), name)
		}
		if w.Pushed > 0 {
			ch <- prometheus.MustNewConstMetric(freshPushed, prometheus.GaugeValue, now.Sub(time.UnixMicro(w.LastPushEvent)).Seconds(), name)
		}
	}
}

// clientCacheStore is an online store with a client-side cache (the Redis
// single node's).
type clientCacheStore interface {
	ClientCache() redisstore.ClientCacheStats
}

// clientCacheMetrics exports a store's client-side cache statistics, read
// at scrape time.
type clientCacheMetrics struct{ s clientCacheStore }

var (
	ccLive = prometheus.NewDesc("fstore_store_client_cache_live",
		"1 while the online store's client-side cache is in use (Redis is tracking its keys for it); 0 while it is bypassed.", nil, nil)
	ccEntries = prometheus.NewDesc("fstore_store_client_cache_entries",
		"Keys in the online store's client-side cache, present and known absent.", nil, nil)
	ccKeys = prometheus.NewDesc("fstore_store_client_cache_keys_total",
		"Keys read through the online store's client-side cache, by result: hit, or miss (read from Redis).", []string{"result"}, nil)
	ccInvalidations = prometheus.NewDesc("fstore_store_client_cache_invalidations_total",
		"Keys Redis invalidated in the client-side cache (written, deleted, expired or evicted by any client).", nil, nil)
	ccFlushes = prometheus.NewDesc("fstore_store_client_cache_flushes_total",
		"Times the whole client-side cache was dropped: a FLUSHDB, or the tracking connection lost or regained.", nil, nil)
)

func (c clientCacheMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{ccLive, ccEntries, ccKeys, ccInvalidations, ccFlushes} {
		ch <- d
	}
}

func (c clientCacheMetrics) Collect(ch chan<- prometheus.Metric) {
	st := c.s.ClientCache()
	if st.Size == 0 {
		return
	}
	live := 0.0
	if st.Live {
		live = 1
	}
	ch <- prometheus.MustNewConstMetric(ccLive, prometheus.GaugeValue, live)
	ch <- prometheus.MustNewConstMetric(ccEntries, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(ccKeys, prometheus.CounterValue, float64(st.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(ccKeys, prometheus.CounterValue, float64(st.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(ccInvalidations, prometheus.CounterValue, float64(st.Invalidations))
	ch <- prometheus.MustNewConstMetric(ccFlushes, prometheus.CounterValue, float64(st.Flushes))
}
