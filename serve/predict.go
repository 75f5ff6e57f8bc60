package serve

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/fstore/fstore/compute/model"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
)

// predict serves POST /v1/predict: entities in; the model's input features
// fetched through the same path as /get-online-features; the input tensor
// built straight from the fetched values; predictions out.
//
//	{"model": "name", "version": "3" (optional, default the latest),
//	 "entities": {"key": [v, …]}, "request_context": {"field": [v, …]},
//	 "return_features": false}
//
//	{"model_name": "name", "model_version": "3", "predictions": [p, …],
//	 "features": {Feast's get-online-features response, full names}}
//
// "features" is present only with "return_features": true. A feature that
// is missing, null or past its TTL enters the model as the training mean,
// exactly as a null did in the training set.
func (f *front) predict(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	fs := f.fs
	if !ctx.IsPost() {
		fs.fail(ctx, epPredict, start, errMethod)
		return
	}
	r := fs.acquire()
	st := inferPool.Get().(*inferState)
	defer inferPool.Put(st)
	sm, withFeatures, err := r.decodePredict(ctx.PostBody(), f.ms)
	if err == nil {
		err = r.resolve()
	}
	if err == nil {
		c := startDeadline(&r.dctx, fs.base, start.Add(fs.lim.RequestTimeout))
		err = r.execute(c, fs.store, fs.m, fs.now().UnixMicro())
		c.end()
	}
	if err == nil {
		err = st.fillFromFeatures(r, sm)
	}
	if err == nil {
		st.out = grow32(st.out, r.n)
		err = sm.b.infer(st.x, r.n, st.out, start.Add(fs.lim.RequestTimeout))
	}
	if err != nil {
		fs.release(r)
		fs.fail(ctx, epPredict, start, err)
		return
	}
	b := append(r.out[:0], `{"model_name":`...)
	b = appendJSONString(b, sm.mv.GetModel())
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, sm.ver)
	b = append(b, `,"predictions":`...)
	b = appendFloat32s(b, st.out[:r.n])
	if withFeatures {
		b = append(b, `,"features":`...)
		b = r.appendJSON(b)
	}
	r.out = append(b, '}')
	if p := fs.sk.modelPlan(r.cat, sm, r.use); p != nil {
		fs.sk.observe(r, p, st.out[:r.n], start)
	}
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(r.out)
	ctx.SetUserValue(requestKey, r)
	fs.m.request(epPredict, fasthttp.StatusOK, start, r.n, len(sm.m.Inputs))
}

// decodePredict parses a /v1/predict body into r: the model's inputs
// become the request's features, with full names.
func (r *onlineRequest) decodePredict(body []byte, ms *modelServer) (*servedModel, bool, error) {
	v, err := r.parser.ParseBytes(body)
	if err != nil {
		return nil, false, malformed(body, err)
	}
	obj, err := v.Object()
	if err != nil {
		return nil, false, badRequest("request body: want a JSON object, got %s", v.Type())
	}
	var name, version string
	var withFeatures bool
	var ferr error
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(key) {
		case "model":
			b, err := v.StringBytes()
			if err != nil || len(b) == 0 {
				ferr = badRequest("model: want a non-empty string, got %s", clipJSON(v))
			}
			name = b2s(b)
		case "version":
			switch v.Type() {
			case fastjson.TypeString:
				version = b2s(v.GetStringBytes())
			case fastjson.TypeNumber:
				n, err := v.Uint()
				if err != nil {
					ferr = badRequest("version: want a positive integer, got %s", clipJSON(v))
				}
				version = strconv.FormatUint(uint64(n), 10)
			case fastjson.TypeNull:
			default:
				ferr = badRequest("version: want a positive integer, got %s", clipJSON(v))
			}
		case "entities":
			ferr = r.decodeColumns(&r.ents, "entities", v)
		case "request_context":
			ferr = r.decodeColumns(&r.reqCtx, "request_context", v)
		case "return_features":
			withFeatures, ferr = jsonBool("return_features", v)
		default:
			ferr = badRequest("unknown field %q (want model, version, entities, request_context, return_features)", key)
		}
	})
	if ferr != nil {
		return nil, false, ferr
	}
	if name == "" {
		return nil, false, badRequest("model: missing; name the model to predict with")
	}
	sm, err := ms.lookup(name, version)
	if err != nil {
		return nil, false, err
	}
	sel, err := sm.selection(r.cat)
	if err != nil {
		return nil, false, &unservableError{view: "model " + name, err: err}
	}
	r.preset, r.full = sel, true
	return sm, withFeatures, nil
}

// fillFromFeatures builds the row-major input tensor from the request's
// fetched features, which are the model's inputs in order. A value that
// is not PRESENT is NaN: the model's missing value. A feature whose type
// is not a number or a boolean (a registry change after the model was
// trained can make one so) makes the model unservable.
func (st *inferState) fillFromFeatures(r *onlineRequest, sm *servedModel) error {
	n, nin := r.n, len(sm.m.Inputs)
	st.x = grow32(st.x, n*nin)
	for j := range r.use.features {
		f := &r.use.features[j]
		c, status, _ := r.value(f)
		switch c.Type {
		case def.Int64, def.Double, def.Bool:
		default:
			return &unservableError{view: "model " + sm.mv.GetModel(), err: fmt.Errorf("input %s is a %s feature; a model input must be INT64, DOUBLE or BOOL", f.fullName, c.Type)}
		}
		for i := range n {
			x := float32(math.NaN())
			if statusAt(c, status, i) == featurestore.Present {
				if v, ok := model.ColumnValue(c, i); ok {
					x = v
				}
			}
			st.x[i*nin+j] = x
		}
	}
	return nil
}
