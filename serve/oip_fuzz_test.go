package serve

import (
	"math"
	"strings"
	"testing"
)

// FuzzInferRequest feeds arbitrary bodies to the Open Inference Protocol
// decoder for a 3-input model: a body is either decoded into exactly rows×3
// values (NaN only where the body said null or left an input column out)
// or refused with a 4xx error, never a panic.
func FuzzInferRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","inputs":[{"name":"input","datatype":"FP32","shape":[2,3],"data":[[1,2,3],[4,5,null]]}]}`,
		`{"inputs":[{"name":"v__f0","datatype":"BOOL","shape":[1],"data":[true]},{"name":"v__f1","datatype":"INT64","shape":[1,1],"data":[7]},{"name":"v__f2","datatype":"FP64","shape":[1],"data":[1e308]}],"outputs":[{"name":"output"}]}`,
		`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3],"data":[1,2,3,4]}]}`,
		`{"inputs":[{"name":"input","datatype":"INT8","shape":[1,3],"data":[127,-128,1e400]}]}`,
		`{"inputs":[{"name":"input","datatype":"FP32","shape":[-1,3],"data":[]}]}`,
		`{"inputs":[{"name":"input","datatype":"FP32","shape":[99999999999,3],"data":[]}]}`,
		`{"inputs":[{"name":"input","shape":[1,3],"data":[[[1]],[[2]],[[3]]]}]}`,
		`{"parameters":{"x":1},"inputs":[]}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	inputs := []string{"v__f0", "v__f1", "v__f2"}
	sm := &servedModel{m: randomModel(f, inputs, nil, 1)}
	f.Fuzz(func(t *testing.T, body []byte) {
		st := &inferState{}
		_, rows, err := st.decodeInfer(body, sm, 1000)
		if err != nil {
			if c := code(err); c.String() != "InvalidArgument" {
				t.Fatalf("%q: error %v mapped to %s, want InvalidArgument", body, err, c)
			}
			return
		}
		if rows < 1 || rows > 1000 || len(st.x) != rows*len(inputs) {
			t.Fatalf("%q: %d rows, %d values", body, rows, len(st.x))
		}
		lower := strings.ToLower(string(body))
		for i, v := range st.x {
			if math.IsInf(float64(v), 0) {
				t.Fatalf("%q: value %d is %v: out of every datatype's range", body, i, v)
			}
			if math.IsNaN(float64(v)) && !strings.Contains(lower, "null") && !strings.Contains(lower, "nan") {
				t.Fatalf("%q: value %d is missing but the body has no null or NaN", body, i)
			}
		}
	})
}

// FuzzPredictRequest feeds arbitrary bodies through /v1/predict's decoding
// and resolution on the example: refused with a 4xx or resolved, never a
// panic.
func FuzzPredictRequest(f *testing.F) {
	for _, s := range []string{
		predictBody,
		`{"model":"completion","version":1,"entities":{"driver_id":[1],"rider_id":[2]},"request_context":{"distance_km":[1],"surge":[1]}}`,
		`{"model":"completion","version":"x","entities":{}}`,
		`{"model":"","entities":{"driver_id":[1]}}`, `{"model":1}`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	fs := fuzzFeatureServer(f)
	ms := newModelServer(nil, BatchPolicy{}, fs.log)
	cols := serviceColumns(f, fs.cat.Load().ix)
	sm := &servedModel{m: randomModel(f, cols, nil, 1), ver: "1"}
	var err error
	if sm.refs, err = inputRefs(fs.cat.Load().ix, cols); err != nil {
		f.Fatal(err)
	}
	ms.cat.Store(&modelCatalog{models: map[string]*modelEntry{"completion": {name: "completion", versions: []*servedModel{sm}}}, names: []string{"completion"}})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := fs.acquire()
		defer fs.release(r)
		_, _, err := r.decodePredict(body, ms)
		if err == nil {
			err = r.resolve()
		}
		if err != nil {
			if c := code(err); c.String() != "InvalidArgument" && c.String() != "NotFound" {
				t.Fatalf("%q: error %v mapped to %s, want a 4xx", body, err, c)
			}
			return
		}
		if r.n < 1 || len(r.use.features) != len(cols) {
			t.Fatalf("%q: resolved %d entities, %d features", body, r.n, len(r.use.features))
		}
	})
}
