package serve

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/fstore/fstore/featurestore/def"
)

// The Open Inference Protocol (KServe v2) over HTTP:
//
//	GET  /v2                                        server metadata
//	GET  /v2/health/live, /v2/health/ready          200 or 503, empty body
//	GET  /v2/models/{name}[/versions/{v}]           model metadata
//	GET  /v2/models/{name}[/versions/{v}]/ready     200 or 503
//	POST /v2/models/{name}[/versions/{v}]/infer     inference
//
// A model has one input tensor, "input", FP32 of shape [-1, F] with F the
// model's inputs in order (GET metadata lists them), and one output,
// "output", FP32 of shape [-1, 1]: the probability of the positive class
// for a binary model, the prediction for a regression. Instead of "input"
// a request may send one tensor per input feature, named by its
// "<view>__<feature>" column, of shape [N] or [N, 1]. Every numeric
// datatype and BOOL is accepted and converted to FP32; a null element is a
// missing value, which the model treats as the training mean.

// Version is the server version reported by the Open Inference Protocol's
// server metadata.
const Version = "0.1.0"

const (
	oipPlatform = "fstore_gorgonia"
	oipInput    = "input"
	oipOutput   = "output"
)

var (
	prefixV2       = []byte("/v2")
	prefixV2Models = []byte("/v2/models/")
	pathV2Live     = []byte("/v2/health/live")
	pathV2Ready    = []byte("/v2/health/ready")
)

// inferState is the pooled state of one OIP or predict request.
type inferState struct {
	parser fastjson.Parser
	x      []float32
	out    []float32
	buf    []byte
	shape  []int64
	// seen marks the input columns a request's tensors filled so far.
	seen []bool
	// k and idx count the elements of the tensor being decoded: stored,
	// and seen (for error positions).
	k, idx int
}

var inferPool = sync.Pool{New: func() any { return &inferState{} }}

// oip routes /v2 requests.
func (f *front) oip(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch {
	case bytes.Equal(path, prefixV2):
		if !ctx.IsGet() {
			writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: use GET")
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"name":"fstore","version":"` + Version + `","extensions":[]}`)
	case bytes.Equal(path, pathV2Live):
		ctx.SetStatusCode(fasthttp.StatusOK)
	case bytes.Equal(path, pathV2Ready):
		if !f.ready.Load() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		}
	case bytes.HasPrefix(path, prefixV2Models):
		f.oipModel(ctx, path[len(prefixV2Models):])
	default:
		writeError(ctx, fasthttp.StatusNotFound, "no route for "+string(ctx.Method())+" "+string(path))
	}
}

// oipModel serves /v2/models/{name}[/versions/{v}][/ready|/infer].
func (f *front) oipModel(ctx *fasthttp.RequestCtx, rest []byte) {
	start := time.Now()
	// The parts alias the request's path, which outlives this call.
	name, version, action, ok := splitModelPath(b2s(rest))
	if !ok {
		writeError(ctx, fasthttp.StatusNotFound, "no route for "+string(ctx.Method())+" "+string(ctx.Path())+": want /v2/models/{name}[/versions/{v}][/ready|/infer]")
		return
	}
	switch action {
	case "infer":
		f.infer(ctx, name, version, start)
	case "ready":
		if !ctx.IsGet() {
			writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: use GET")
			return
		}
		if _, err := f.ms.lookup(name, version); err != nil {
			writeError(ctx, httpStatus(code(err)), err.Error())
		}
	default:
		if !ctx.IsGet() {
			writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: use GET")
			return
		}
		sm, err := f.ms.lookup(name, version)
		if err != nil {
			writeError(ctx, httpStatus(code(err)), err.Error())
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(f.appendModelMetadata(nil, sm))
	}
}

// splitModelPath splits "{name}[/versions/{v}][/ready|/infer]". The
// results alias p.
func splitModelPath(p string) (name, version, action string, ok bool) {
	name, rest, more := strings.Cut(p, "/")
	if name == "" {
		return "", "", "", false
	}
	if more {
		if r, isVer := strings.CutPrefix(rest, "versions/"); isVer {
			version, rest, more = strings.Cut(r, "/")
			if version == "" {
				return "", "", "", false
			}
		}
	}
	switch {
	case !more:
		return name, version, "", true
	case rest == "ready" || rest == "infer":
		return name, version, rest, true
	}
	return "", "", "", false
}

// appendModelMetadata writes the OIP model metadata of sm's model.
func (f *front) appendModelMetadata(b []byte, sm *servedModel) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, sm.mv.GetModel())
	b = append(b, `,"versions":[`...)
	if e := f.ms.cat.Load().models[sm.mv.GetModel()]; e != nil {
		for i, v := range e.versions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, v.ver)
		}
	}
	b = append(b, `],"platform":"`+oipPlatform+`","inputs":[{"name":"`+oipInput+`","datatype":"FP32","shape":[-1,`...)
	b = strconv.AppendInt(b, int64(len(sm.m.Inputs)), 10)
	b = append(b, `]}],"outputs":[{"name":"`+oipOutput+`","datatype":"FP32","shape":[-1,1]}],"parameters":{"version":`...)
	b = appendJSONString(b, sm.ver)
	b = append(b, `,"task":`...)
	b = appendJSONString(b, sm.m.Task.String())
	b = append(b, `,"arch":`...)
	b = appendJSONString(b, sm.m.Arch.String())
	b = append(b, `,"input_features":[`...)
	for i, in := range sm.m.Inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, in)
	}
	b = append(b, "]}}"...)
	return b
}

// infer serves POST /v2/models/{name}[/versions/{v}]/infer.
func (f *front) infer(ctx *fasthttp.RequestCtx, name, version string, start time.Time) {
	if !ctx.IsPost() {
		f.fs.fail(ctx, epInfer, start, errMethod)
		return
	}
	sm, err := f.ms.lookup(name, version)
	if err != nil {
		f.fs.fail(ctx, epInfer, start, err)
		return
	}
	st := inferPool.Get().(*inferState)
	defer inferPool.Put(st)
	id, rows, err := st.decodeInfer(ctx.PostBody(), sm, f.fs.lim.MaxEntities)
	if err == nil {
		st.out = grow32(st.out, rows)
		err = sm.b.infer(st.x, rows, st.out, start.Add(f.fs.lim.RequestTimeout))
	}
	if err != nil {
		f.fs.fail(ctx, epInfer, start, err)
		return
	}
	b := append(st.buf[:0], `{"model_name":`...)
	b = appendJSONString(b, sm.mv.GetModel())
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, sm.ver)
	if id != nil {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, b2s(id))
	}
	b = append(b, `,"outputs":[{"name":"`+oipOutput+`","datatype":"FP32","shape":[`...)
	b = strconv.AppendInt(b, int64(rows), 10)
	b = append(b, `,1],"data":`...)
	b = appendFloat32s(b, st.out[:rows])
	b = append(b, "}]}"...)
	st.buf = b
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	f.fs.m.request(epInfer, fasthttp.StatusOK, start, rows, len(sm.m.Inputs))
}

// appendFloat32s writes a JSON array of float32s, shortest round-trip, with
// null for a non-finite value.
func appendFloat32s(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return append(b, ']')
}

// decodeInfer parses an OIP inference request for sm into st.x and returns
// the request id (nil when absent) and the number of rows.
func (st *inferState) decodeInfer(body []byte, sm *servedModel, maxRows int) (id []byte, rows int, err error) {
	v, err := st.parser.ParseBytes(body)
	if err != nil {
		return nil, 0, malformed(body, err)
	}
	obj, err := v.Object()
	if err != nil {
		return nil, 0, badRequest("request body: want a JSON object, got %s", v.Type())
	}
	var inputs []*fastjson.Value
	var ferr error
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(key) {
		case "id":
			if id, err = v.StringBytes(); err != nil {
				ferr = badRequest("id: want a string, got %s", clipJSON(v))
			}
		case "parameters":
			if v.Type() != fastjson.TypeObject && v.Type() != fastjson.TypeNull {
				ferr = badRequest("parameters: want an object, got %s", clipJSON(v))
			}
		case "inputs":
			if inputs, err = v.Array(); err != nil {
				ferr = badRequest("inputs: want an array of tensors, got %s", clipJSON(v))
			}
		case "outputs":
			ferr = checkRequestedOutputs(v)
		default:
			ferr = badRequest("unknown field %q (want id, parameters, inputs, outputs)", key)
		}
	})
	if ferr != nil {
		return nil, 0, ferr
	}
	if len(inputs) == 0 {
		return nil, 0, badRequest("inputs: want at least one tensor")
	}
	nin := len(sm.m.Inputs)
	rows = -1
	filled := 0
	for i, t := range inputs {
		tn, err := st.decodeTensor(i, t, sm, &rows, maxRows)
		if err != nil {
			return nil, 0, err
		}
		filled += tn
	}
	if filled != nin {
		return nil, 0, badRequest("inputs: %d of the model's %d input features given; send %q of shape [N, %d] or one tensor per feature (GET /v2/models/%s lists them)", filled, nin, oipInput, nin, sm.mv.GetModel())
	}
	return id, rows, nil
}

// checkRequestedOutputs accepts a request's "outputs" only when it names
// the one output.
func checkRequestedOutputs(v *fastjson.Value) error {
	arr, err := v.Array()
	if err != nil {
		return badRequest("outputs: want an array, got %s", clipJSON(v))
	}
	for i, o := range arr {
		if o.Get("name") == nil {
			// {"outputs":[{}]} (found by FuzzInferRequest: clipJSON of
			// the absent name was a nil dereference).
			return badRequest("outputs[%d]: missing name (the model has one output, %q)", i, oipOutput)
		}
		n := o.GetStringBytes("name")
		if string(n) != oipOutput {
			return badRequest("outputs[%d]: unknown output %s (the model has one output, %q)", i, clipJSON(o.Get("name")), oipOutput)
		}
	}
	return nil
}

// decodeTensor decodes inputs[i] into st.x. It returns how many of the
// model's input columns the tensor filled.
func (st *inferState) decodeTensor(i int, t *fastjson.Value, sm *servedModel, rows *int, maxRows int) (int, error) {
	if t.Type() != fastjson.TypeObject {
		return 0, badRequest("inputs[%d]: want a tensor object, got %s", i, clipJSON(t))
	}
	name := b2s(t.GetStringBytes("name")) // aliases the parser, used only in this request
	dt := b2s(t.GetStringBytes("datatype"))
	shapeV := t.Get("shape")
	if shapeV == nil {
		return 0, badRequest("inputs[%d] (%s): missing shape", i, name)
	}
	sh, err := shapeV.Array()
	if err != nil {
		return 0, badRequest("inputs[%d] (%s): shape: want an array of integers", i, name)
	}
	st.shape = st.shape[:0]
	for _, d := range sh {
		n, err := d.Int64()
		if err != nil {
			return 0, badRequest("inputs[%d] (%s): shape: want integers, got %s", i, name, clipJSON(shapeV))
		}
		st.shape = append(st.shape, n)
	}
	p, err := st.place(i, name, dt, st.shape, sm, rows, maxRows)
	if err != nil {
		return 0, err
	}
	data := t.Get("data")
	if data == nil {
		return 0, badRequest("inputs[%d] (%s): missing data", i, name)
	}
	st.k, st.idx = 0, 0
	if err := st.flatten(data, p, oipRangeOf(dt)); err == errTooMany {
		return 0, badRequest("inputs[%d] (%s): data has more than the %d elements shape %s needs", i, name, p.want, clipJSON(shapeV))
	} else if err != nil {
		return 0, badRequest("inputs[%d] (%s): data%v", i, name, err)
	}
	if st.k != p.want {
		return 0, badRequest("inputs[%d] (%s): data has %d elements, shape %s needs %d", i, name, st.k, clipJSON(shapeV), p.want)
	}
	return p.filled, nil
}

// placement says where one request tensor's elements go in the model's
// row-major input: the whole matrix ("input"), or one column.
type placement struct {
	col    int // input column; -1 for the whole matrix
	nin    int
	want   int // elements the tensor must have
	filled int // input columns it fills
}

// put stores the tensor's k-th element.
func (p placement) put(x []float32, k int, v float32) {
	if p.col < 0 {
		x[k] = v
	} else {
		x[k*p.nin+p.col] = v
	}
}

// place validates one input tensor's name, datatype and shape against sm,
// fixes the request's row count with the first tensor (rows < 0 before),
// and sizes st.x (all missing until filled).
func (st *inferState) place(i int, name, dt string, shape []int64, sm *servedModel, rows *int, maxRows int) (placement, error) {
	nin := len(sm.m.Inputs)
	p := placement{col: -1, nin: nin, filled: nin}
	if name != oipInput {
		for j, in := range sm.m.Inputs {
			if in == name {
				p.col, p.filled = j, 1
				break
			}
		}
		if p.col < 0 {
			return p, badRequest("inputs[%d]: unknown tensor %q: want %q or one of the model's input features%s", i, name, oipInput, def.HintFor(name, sm.m.Inputs))
		}
	}
	if !oipDatatype(dt) {
		return p, badRequest("inputs[%d] (%s): datatype %q: want FP32, FP64, INT8..INT64, UINT8..UINT64 or BOOL", i, name, dt)
	}
	n := int64(-1)
	switch {
	case p.col < 0 && len(shape) == 2 && shape[1] == int64(nin):
		n = shape[0]
	case p.col >= 0 && (len(shape) == 1 || len(shape) == 2 && shape[1] == 1):
		n = shape[0]
	}
	if n < 0 {
		want := "[N, 1] or [N]"
		if p.col < 0 {
			want = "[N, " + strconv.Itoa(nin) + "]"
		}
		return p, badRequest("inputs[%d] (%s): shape %v: want %s", i, name, shape, want)
	}
	if n == 0 || n > int64(maxRows) {
		return p, badRequest("inputs[%d] (%s): %d rows: want 1..%d", i, name, n, maxRows)
	}
	if *rows >= 0 && int(n) != *rows {
		return p, badRequest("inputs[%d] (%s): %d rows, but an earlier input has %d", i, name, n, *rows)
	}
	if *rows < 0 {
		*rows = int(n)
		st.x = grow32(st.x, int(n)*nin)
		for k := range st.x {
			st.x[k] = float32(math.NaN())
		}
		st.seen = st.seen[:0]
		for range nin {
			st.seen = append(st.seen, false)
		}
	}
	lo, hi := p.col, p.col+1
	if p.col < 0 {
		lo, hi = 0, nin
	}
	for j := lo; j < hi; j++ {
		if st.seen[j] {
			return p, badRequest("inputs[%d] (%s): input feature %q is given twice", i, name, sm.m.Inputs[j])
		}
		st.seen[j] = true
	}
	p.want = int(n)
	if p.col < 0 {
		p.want *= nin
	}
	return p, nil
}

func oipDatatype(dt string) bool {
	switch dt {
	case "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BOOL":
		return true
	}
	return false
}

// flatten walks data (nested arrays, row-major) and stores each element
// through p, counting them in st.k (st.idx counts for error positions); it
// returns errTooMany past p.want elements. A method rather than closures:
// it runs on every inference request and must not allocate.
func (st *inferState) flatten(v *fastjson.Value, p placement, r oipRange) error {
	boolean := r.dt == "BOOL"
	switch v.Type() {
	case fastjson.TypeArray:
		arr, _ := v.Array()
		for _, e := range arr {
			if err := st.flatten(e, p, r); err != nil {
				return err
			}
		}
		return nil
	case fastjson.TypeNull:
		return st.put(p, float32(math.NaN()))
	case fastjson.TypeTrue, fastjson.TypeFalse:
		if !boolean {
			return &valueError{i: st.idx, msg: "want a number, got " + clipJSON(v)}
		}
		x := float32(0)
		if v.Type() == fastjson.TypeTrue {
			x = 1
		}
		return st.put(p, x)
	case fastjson.TypeNumber:
		if boolean {
			return &valueError{i: st.idx, msg: "want true or false (datatype BOOL), got " + clipJSON(v)}
		}
		f, err := v.Float64()
		if err != nil && !math.IsInf(f, 0) { // 1e400: +Inf, for r to refuse
			return &valueError{i: st.idx, msg: "want a number, got " + clipJSON(v)}
		}
		if !r.ok(f) {
			return &valueError{i: st.idx, msg: r.problem(f, clipJSON(v))}
		}
		return st.put(p, float32(f))
	}
	return &valueError{i: st.idx, msg: "want a number, got " + clipJSON(v)}
}

func (st *inferState) put(p placement, x float32) error {
	st.idx++
	if st.k >= p.want {
		return errTooMany
	}
	p.put(st.x, st.k, x)
	st.k++
	return nil
}

var errTooMany = &valueError{msg: "too many elements"}
