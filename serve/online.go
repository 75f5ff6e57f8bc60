package serve

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
	"google.golang.org/grpc/codes"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/lograte"
)

// featureServer serves features and pushes, over HTTP and gRPC, from the
// catalog of the latest registry version.
type featureServer struct {
	store featurestore.OnlineStore
	cat   atomic.Pointer[catalog]
	lim   Limits
	pool  sync.Pool
	m     *metrics
	log   *slog.Logger
	// logLim rate-limits fail's log lines; nil logs every one.
	logLim *lograte.Limiter
	// base is the context requests derive their deadlines from; it ends
	// when the server gives up draining.
	base context.Context
	now  func() time.Time
	// sk logs and monitors served rows; nil: neither.
	sk *skewer
}

func newFeatureServer(store featurestore.OnlineStore, reg *registry.Registry, lim Limits, log *slog.Logger, now func() time.Time) *featureServer {
	lim.EnsureDefaults()
	if now == nil {
		now = time.Now
	}
	fs := &featureServer{store: store, lim: lim, log: log, base: context.Background(), now: now}
	fs.pool.New = func() any { return &onlineRequest{} }
	fs.m = newMetrics(fs)
	fs.load(reg.Latest())
	return fs
}

// load compiles snap and swaps it in. Requests in flight finish on the
// catalog they loaded; new ones see the new version whole.
func (fs *featureServer) load(snap *registry.Snapshot) {
	c := compileCatalog(snap)
	fs.sk.compileSkew(c)
	fs.m.compileQuality(c)
	fs.cat.Store(c)
	fs.m.version.Set(float64(c.version))
	for name, err := range c.broken {
		fs.log.Warn("feature view cannot be served", "view", name, "registry_version", c.version, "err", err)
	}
	for name, err := range c.serviceErr {
		fs.log.Warn("feature service cannot be served", "service", name, "registry_version", c.version, "err", err)
	}
}

// watch swaps in every new registry version until ctx ends or the
// registry closes.
func (fs *featureServer) watch(ctx context.Context, reg *registry.Registry) {
	for {
		snap, err := reg.Wait(ctx, fs.cat.Load().version)
		if err != nil {
			return
		}
		start := time.Now()
		fs.load(snap)
		fs.m.reloads.Inc()
		fs.log.Info("registry version loaded", "registry_version", snap.Version, "views", len(fs.cat.Load().views), "took", time.Since(start))
	}
}

// enableSkew turns on feature logging and drift monitoring, recompiling
// the current registry version with them. Call it before serving.
func (fs *featureServer) enableSkew(sk *skewer, snap *registry.Snapshot) {
	fs.sk = sk
	fs.load(snap)
}

// observeSkew logs and monitors a served feature-service request.
func (fs *featureServer) observeSkew(r *onlineRequest, start time.Time) {
	if r.service == "" || len(r.cat.skew) == 0 {
		return
	}
	if p := r.cat.skew[r.service]; p != nil {
		fs.sk.observe(r, p, nil, start)
	}
}

func (fs *featureServer) acquire() *onlineRequest {
	r := fs.pool.Get().(*onlineRequest)
	r.fs = fs
	r.reset(fs.cat.Load(), &fs.lim)
	return r
}

func (fs *featureServer) release(r *onlineRequest) {
	r.cat, r.use = nil, nil
	fs.pool.Put(r)
}

// requestKey is the fasthttp user value under which a request's state
// waits for its response to be written.
var requestKey any = requestKeyType{}

type requestKeyType struct{}

// Close returns r to its server's pool; fasthttp calls it when it resets
// the request whose response r's buffer holds.
func (r *onlineRequest) Close() error {
	r.fs.release(r)
	return nil
}

// getOnlineFeatures serves POST /get-online-features.
func (fs *featureServer) getOnlineFeatures(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	if !ctx.IsPost() {
		fs.fail(ctx, epGetOnlineFeatures, start, errMethod)
		return
	}
	r := fs.acquire()
	err := r.decodeJSON(ctx.PostBody())
	if err == nil {
		err = r.resolve()
	}
	if err == nil {
		// The request's own deadline context: no timer or allocation
		// unless the store waits on it (see deadlineCtx).
		c := startDeadline(&r.dctx, fs.base, time.Now().Add(fs.lim.RequestTimeout))
		err = r.execute(c, fs.store, fs.m, fs.now().UnixMicro())
		c.end()
	}
	if err != nil {
		fs.release(r)
		fs.fail(ctx, epGetOnlineFeatures, start, err)
		return
	}
	ctx.SetContentType("application/json")
	// The response body is r's own buffer, handed to fasthttp without a
	// copy; fasthttp closes r (returning it to the pool) once the response
	// is written, so the buffer keeps its capacity from request to request
	// whatever fasthttp's body pool decides.
	r.out = r.appendJSON(r.out[:0])
	ctx.Response.SetBodyRaw(r.out)
	ctx.SetUserValue(requestKey, r)
	fs.observeSkew(r, start)
	fs.m.request(epGetOnlineFeatures, fasthttp.StatusOK, start, r.n, len(r.use.features))
}

var errMethod = &methodError{}

type methodError struct{}

func (*methodError) Error() string { return "method not allowed: use POST" }

// fail writes err as {"error": "..."} with the status its kind maps to.
func (fs *featureServer) fail(ctx *fasthttp.RequestCtx, ep int, start time.Time, err error) {
	status := fasthttp.StatusMethodNotAllowed
	kind := "bad_request"
	if err != errMethod {
		c := code(err)
		status, kind = httpStatus(c), errorKind(c)
	} else {
		// RFC 9110 §15.5.6: a 405 names the methods the resource allows.
		ctx.Response.Header.Set("Allow", "POST")
	}
	if status >= 500 {
		// A store outage fails every request the same way: the first of a
		// kind is logged at once, then one line per interval with a count.
		if ok, n := fs.logLim.Allow(lograte.Key{Endpoint: endpointNames[ep], Status: status, Kind: kind}); ok {
			fs.log.Warn("request failed", "endpoint", endpointNames[ep], "status", status, "err", err, "suppressed", n)
		}
	}
	fs.m.failed(kind)
	writeError(ctx, status, err.Error())
	fs.m.request(ep, status, start, 0, 0)
}

// httpStatus maps a gRPC code to the HTTP status of the fasthttp
// endpoints (the gateway's mapping, plus 413 for limits).
func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return fasthttp.StatusBadRequest
	case codes.NotFound:
		return fasthttp.StatusNotFound
	case codes.Unavailable:
		return fasthttp.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return fasthttp.StatusGatewayTimeout
	case codes.ResourceExhausted:
		return fasthttp.StatusRequestEntityTooLarge
	case codes.Canceled:
		return 499
	}
	return fasthttp.StatusInternalServerError
}

// push serves POST /push with Feast's request shape:
//
//	{"push_source_name": "name", "df": {"column": [v, …], …}, "to": "online"}
//
// df may also be a list of row objects. The events go to every online
// view reading the push source; they are checked for every view before
// any is written.
func (fs *featureServer) push(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	if !ctx.IsPost() {
		fs.fail(ctx, epPush, start, errMethod)
		return
	}
	cat := fs.cat.Load()
	src, events, err := decodePushJSON(cat, ctx.PostBody(), fs.lim.MaxEntities)
	if err == nil {
		err = fs.checkPushValues(cat, src, events, "df")
	}
	var res pushResult
	if err == nil {
		c, cancel := context.WithTimeout(fs.base, fs.lim.RequestTimeout)
		res, err = fs.pushEvents(c, cat, src, events)
		cancel()
	}
	if err != nil {
		fs.fail(ctx, epPush, start, err)
		return
	}
	b := fmt.Appendf(nil, `{"events":%d,"views":[`, events.Len)
	for i, v := range res.views {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"view":%s,"applied":%d,"entities":%d}`, appendJSONString(nil, v.view), v.stats.Applied, v.stats.Entities)
	}
	b = append(b, "]}"...)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	fs.m.request(epPush, fasthttp.StatusOK, start, events.Len, 0)
}

type pushResult struct {
	views []viewPush
}

type viewPush struct {
	view  string
	stats featurestore.PushStats
}

// pushEvents applies events of push source src to every online view
// reading it, after checking them for all.
func (fs *featureServer) pushEvents(ctx context.Context, cat *catalog, src string, events *compute.Batch) (pushResult, error) {
	var res pushResult
	views := cat.pushSources[src]
	for _, ov := range views {
		if err := featurestore.CheckEventsWith(ov, events, fs.pushOptions()); err != nil {
			return res, fmt.Errorf("view %q: %w", ov.Name, err)
		}
	}
	for _, ov := range views {
		start := time.Now()
		st, err := featurestore.Push(ctx, fs.store, ov, events, fs.pushOptions())
		fs.m.storeWrite(time.Since(start))
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return res, fmt.Errorf("push into view %q (views before it in %v are written): %w", ov.Name, res.viewNames(), err)
		}
		res.views = append(res.views, viewPush{view: ov.Name, stats: st})
	}
	return res, nil
}

func (r pushResult) viewNames() []string {
	names := make([]string, len(r.views))
	for i, v := range r.views {
		names[i] = v.view
	}
	return names
}

// decodePushJSON decodes a Feast push request into events of its push
// source, checking every value's type.
func decodePushJSON(cat *catalog, body []byte, maxEvents int) (string, *compute.Batch, error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return "", nil, malformed(body, err)
	}
	obj, err := v.Object()
	if err != nil {
		return "", nil, badRequest("request body: want a JSON object, got %s", v.Type())
	}
	var name string
	var df *fastjson.Value
	var ferr error
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(key) {
		case "push_source_name":
			b, err := v.StringBytes()
			if err != nil {
				ferr = badRequest("push_source_name: want a string, got %s", clipJSON(v))
			}
			name = string(b)
		case "df":
			df = v
		case "to":
			b, _ := v.StringBytes()
			if string(b) != "online" {
				ferr = badRequest("to: %s is not supported; fstore pushes into the online store only (\"to\": \"online\"); offline history comes from the push source's batch source", clipJSON(v))
			}
		case "allow_registry_cache":
		default:
			ferr = badRequest("unknown field %q (want push_source_name, df, to)", key)
		}
	})
	if ferr != nil {
		return "", nil, ferr
	}
	if name == "" {
		return "", nil, badRequest("push_source_name: missing")
	}
	src := cat.ix.Source(name)
	if src == nil || len(cat.pushSources[name]) == 0 {
		known := make([]string, 0, len(cat.pushSources))
		for n := range cat.pushSources {
			known = append(known, n)
		}
		sort.Strings(known)
		if src != nil {
			return "", nil, badRequest("push_source_name: source %q is not a push source read by an online view", name)
		}
		return "", nil, &notFoundError{what: "push source", name: name, known: known}
	}
	if df == nil {
		return "", nil, badRequest("df: missing")
	}
	b := featurestore.NewEventBuilder(src)
	var raw []byte
	field := func(col []byte) (int, error) {
		i, err := b.Field(b2s(col))
		if err != nil {
			return -1, badRequest("df: %v", err)
		}
		return i, nil
	}
	set := func(row, i int, col []byte, v *fastjson.Value) error {
		raw = v.MarshalTo(raw[:0])
		if err := featurestore.SetJSONValue(b, i, raw); err != nil {
			return badRequest("df.%s[%d]: %v", col, row, err)
		}
		return nil
	}
	switch df.Type() {
	case fastjson.TypeObject:
		o, _ := df.Object()
		n := -1
		var first []byte
		o.Visit(func(key []byte, v *fastjson.Value) {
			if ferr != nil {
				return
			}
			arr, err := v.Array()
			if err != nil {
				ferr = badRequest("df.%s: want an array of values, got %s", key, clipJSON(v))
				return
			}
			if n < 0 {
				n, first = len(arr), key
				if n > maxEvents {
					ferr = badRequest("df: %d events, more than the limit of %d", n, maxEvents)
					return
				}
				for range n {
					b.AddRow()
				}
			} else if len(arr) != n {
				ferr = badRequest("df: column %q has %d values but %q has %d", key, len(arr), first, n)
				return
			}
			i, err := field(key) // once per column
			if err != nil {
				ferr = err
				return
			}
			for row, x := range arr {
				b.Row(row)
				if err := set(row, i, key, x); err != nil {
					ferr = err
					return
				}
			}
		})
	case fastjson.TypeArray:
		rows, _ := df.Array()
		if len(rows) > maxEvents {
			return "", nil, badRequest("df: %d events, more than the limit of %d", len(rows), maxEvents)
		}
		for row, rv := range rows {
			o, err := rv.Object()
			if err != nil {
				return "", nil, badRequest("df[%d]: want an object, got %s", row, clipJSON(rv))
			}
			b.AddRow()
			o.Visit(func(key []byte, v *fastjson.Value) {
				if ferr != nil {
					return
				}
				i, err := field(key)
				if err != nil {
					ferr = err
					return
				}
				ferr = set(row, i, key, v)
			})
			if ferr != nil {
				break
			}
		}
	default:
		return "", nil, badRequest("df: want an object of columns or an array of rows, got %s", clipJSON(df))
	}
	if ferr != nil {
		return "", nil, ferr
	}
	return name, b.Batch(), nil
}
