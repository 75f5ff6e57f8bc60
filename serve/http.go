package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorBody is the JSON shape of every HTTP error: {"error": "..."}, plus
// the gRPC code name for clients that switch on it.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

func writeError(ctx *fasthttp.RequestCtx, statusCode int, msg string) {
	b, _ := json.Marshal(errorBody{Error: msg})
	ctx.SetStatusCode(statusCode)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// gatewayError writes gateway errors in the same {"error": ...} shape as
// the fasthttp endpoints, with the status derived from the gRPC code.
func gatewayError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, err error) {
	st := status.Convert(err)
	b, _ := json.Marshal(errorBody{Error: st.Message(), Code: st.Code().String()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	w.Write(b)
}

// requestErrors is the fasthttp ErrorHandler: fasthttp rejects a request
// before any handler runs when its body exceeds MaxRequestBodySize or its
// headers do not fit the read buffer, and would answer in plain text. These
// answers are in the documented shape instead: 413 and 431 JSON naming the
// limit, 408 for a read timeout, 400 otherwise.
type requestErrors struct {
	maxBody   int
	maxHeader int
}

func (re requestErrors) handle(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body exceeds the %d-byte limit (--max-body-size)", re.maxBody))
	case errors.As(err, &small):
		writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge,
			fmt.Sprintf("request line and headers exceed the %d-byte limit", re.maxHeader))
	case errors.As(err, &netErr) && netErr.Timeout():
		writeError(ctx, fasthttp.StatusRequestTimeout, "timed out reading the request")
	default:
		writeError(ctx, fasthttp.StatusBadRequest, "cannot parse the HTTP request: "+err.Error())
	}
}

// probeKey marks a request made by allowedMethods: the gateway's probe
// middleware records that a route matched and runs nothing.
type probeKey struct{}

// probeMiddleware lets allowedMethods ask the gateway mux which methods a
// path has bindings for (the mux does not expose its routes): a probe
// request that reaches a handler sets the flag and returns.
func probeMiddleware(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p map[string]string) {
		if matched, ok := r.Context().Value(probeKey{}).(*bool); ok {
			*matched = true
			return
		}
		next(w, r, p)
	}
}

// probeMethods are the methods the gateway's bindings may use.
var probeMethods = [...]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods returns the methods mux has a binding for on r's path.
// mux must have been built with probeMiddleware.
func allowedMethods(mux *runtime.ServeMux, r *http.Request) []string {
	var allowed []string
	for _, m := range probeMethods {
		matched := false
		pr, err := http.NewRequestWithContext(context.WithValue(r.Context(), probeKey{}, &matched), m, r.URL.String(), nil)
		if err != nil {
			continue
		}
		mux.ServeHTTP(discardWriter{}, pr)
		if matched {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// discardWriter is the ResponseWriter of probe requests.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// gatewayRoutingError answers the gateway's routing failures in the
// {"error": ...} shape: 405 with an Allow header for a method that has no
// binding on an existing path (grpc-gateway's default is 501
// Unimplemented), 404 for an unknown path, 400 for a malformed one.
func gatewayRoutingError(_ context.Context, mux *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if r.Context().Value(probeKey{}) != nil {
		return // a probe that matched no binding: nothing to answer or probe
	}
	var body errorBody
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		allowed := allowedMethods(mux, r)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		body.Error = fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", "))
	case http.StatusNotFound:
		body = errorBody{Error: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path), Code: codes.NotFound.String()}
	case http.StatusBadRequest:
		body = errorBody{Error: fmt.Sprintf("malformed request path %s", r.URL.Path), Code: codes.InvalidArgument.String()}
	default:
		body = errorBody{Error: http.StatusText(httpStatus)}
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	w.Write(b)
}

// adapt mounts a net/http handler on fasthttp. fasthttpadaptor answers a
// request URI that net/url cannot parse (an invalid escape such as
// "/v1/registry%0X") with a plain-text 500; such a request is the client's
// error, answered 400 in the {"error": ...} shape before the adaptor runs.
func adapt(h http.Handler) fasthttp.RequestHandler {
	next := fasthttpadaptor.NewFastHTTPHandler(h)
	return func(ctx *fasthttp.RequestCtx) {
		if _, err := url.ParseRequestURI(string(ctx.RequestURI())); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "malformed request URI: "+err.Error())
			return
		}
		next(ctx)
	}
}
