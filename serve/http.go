package serve

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/valyala/fasthttp"
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
