package serve

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/compute/model"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
	"github.com/fstore/fstore/third_party/oip/inference"
)

// randomModel builds a valid model over inputs with random weights and
// normalisation: what training would produce, without the training time.
func randomModel(t testing.TB, inputs []string, hidden []int, seed uint64) *model.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	m := &model.Model{Arch: model.Arch{Hidden: hidden}, Task: model.Binary, Inputs: inputs}
	for range inputs {
		m.Mean = append(m.Mean, float32(rng.NormFloat64()*3))
		m.Scale = append(m.Scale, float32(0.5+rng.Float64()*20))
	}
	widths := append(append([]int{len(inputs)}, hidden...), 1)
	for l := 0; l+1 < len(widths); l++ {
		in, out := widths[l], widths[l+1]
		ly := model.Layer{In: in, Out: out, W: make([]float32, in*out), B: make([]float32, out)}
		for i := range ly.W {
			ly.W[i] = float32(rng.NormFloat64() / math.Sqrt(float64(in)))
		}
		for i := range ly.B {
			ly.B[i] = float32(rng.NormFloat64() * 0.1)
		}
		m.Layers = append(m.Layers, ly)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// serviceColumns returns the example's trip_completion features as
// training-set columns.
func serviceColumns(t testing.TB, ix *def.Index) []string {
	t.Helper()
	refs, err := ix.ServiceFeatures("trip_completion")
	if err != nil {
		t.Fatal(err)
	}
	cols := make([]string, len(refs))
	for i, r := range refs {
		cols[i] = r.Column()
	}
	return cols
}

// modelEnv is the feature environment with models registered over gRPC.
type modelEnv struct {
	*featureEnv
	models fstorev1.ModelServiceClient
	infer  inference.GRPCInferenceServiceClient
	cols   []string
}

func startModels(t *testing.T) *modelEnv {
	t.Helper()
	env := &modelEnv{featureEnv: startFeatures(t, "")}
	env.models = fstorev1.NewModelServiceClient(env.conn)
	env.infer = inference.NewGRPCInferenceServiceClient(env.conn)
	env.cols = serviceColumns(t, env.store.Registry().Latest().Index)
	return env
}

func (env *modelEnv) register(t *testing.T, m *model.Model) *fstorev1.ModelVersion {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.models.RegisterModelVersion(context.Background(), &fstorev1.RegisterModelVersionRequest{
		Model: "completion", Artifact: b, TrainingDataset: "train.parquet", Metrics: map[string]float64{"auc": 0.5}, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetVersion()
}

// predictResponse is /v1/predict's response.
type predictResponse struct {
	ModelName    string        `json:"model_name"`
	ModelVersion string        `json:"model_version"`
	Predictions  []*float64    `json:"predictions"`
	Features     feastResponse `json:"features"`
}

// oipResponse is an OIP inference response.
type oipResponse struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name     string    `json:"name"`
		Datatype string    `json:"datatype"`
		Shape    []int     `json:"shape"`
		Data     []float64 `json:"data"`
	} `json:"outputs"`
}

const predictBody = `{"model": "completion", "entities": {"driver_id": [1001, 1002, 999999], "rider_id": [1, 2, 3]},
	"request_context": {"distance_km": [3.5, 25, 1], "surge": [1.0, 1.5, 2.0]}, "return_features": true}`

// TestPredictAndInfer checks that /v1/predict feeds the model exactly the
// features /get-online-features serves, and that the OIP endpoints (HTTP
// and gRPC, typed and raw) give the same answers for the same tensor.
func TestPredictAndInfer(t *testing.T) {
	env := startModels(t)
	m := randomModel(t, env.cols, []int{8, 4}, 1)
	mv := env.register(t, m)
	if mv.GetVersion() != 1 || mv.GetArch() != "mlp:8,4" || len(mv.GetInputFeatures()) != len(env.cols) || mv.GetFeatureServiceVersion() != 1 {
		t.Fatalf("registered %v", mv)
	}
	eng, err := model.NewEngine(m, nil)
	if err != nil {
		t.Fatal(err)
	}

	code, body := post(t, env.httpURL+"/v1/predict", predictBody)
	if code != 200 {
		t.Fatalf("predict: %d %s", code, body)
	}
	var pr predictResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.ModelName != "completion" || pr.ModelVersion != "1" || len(pr.Predictions) != 3 {
		t.Fatalf("predict response %s", body)
	}
	// The returned features, with full names, are the model's inputs in
	// order after the entity columns; rebuild the tensor from them.
	names := pr.Features.Metadata.FeatureNames
	if len(names) != 2+len(env.cols) || names[0] != "driver_id" || names[1] != "rider_id" {
		t.Fatalf("feature names %v", names)
	}
	x := make([]float32, 3*len(env.cols))
	present := 0
	for j, col := range env.cols {
		if names[2+j] != col {
			t.Fatalf("feature %d is %q, want %q", j, names[2+j], col)
		}
		res := pr.Features.Results[2+j]
		for i := range 3 {
			v := float32(math.NaN())
			if res.Statuses[i] == "PRESENT" {
				present++
				switch val := res.Values[i].(type) {
				case float64:
					v = float32(val)
				case bool:
					v = 0
					if val {
						v = 1
					}
				default:
					t.Fatalf("%s[%d] = %#v", col, i, val)
				}
			}
			x[i*len(env.cols)+j] = v
		}
	}
	if present < len(env.cols) {
		t.Fatalf("only %d of the known entities' %d features are present: the test would not exercise the fetch", present, 2*len(env.cols))
	}
	want := make([]float32, 3)
	if err := eng.Predict(x, 3, want); err != nil {
		t.Fatal(err)
	}
	for i, p := range pr.Predictions {
		if p == nil || float32(*p) != want[i] {
			t.Fatalf("prediction %d = %v, engine on the served features gives %v", i, p, want[i])
		}
	}

	// OIP over HTTP: the same tensor, whole and per feature.
	rows := make([][]any, 3)
	perFeature := make([]string, len(env.cols))
	for i := range rows {
		for j := range env.cols {
			rows[i] = append(rows[i], jsonNum(x[i*len(env.cols)+j]))
		}
	}
	for j, col := range env.cols {
		var vals []string
		for i := range 3 {
			b, _ := json.Marshal(jsonNum(x[i*len(env.cols)+j]))
			vals = append(vals, string(b))
		}
		perFeature[j] = fmt.Sprintf(`{"name": %q, "datatype": "FP64", "shape": [3], "data": [%s]}`, col, strings.Join(vals, ","))
	}
	whole, _ := json.Marshal(map[string]any{"id": "r1", "inputs": []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []int{3, len(env.cols)}, "data": rows}}})
	for name, req := range map[string]string{
		"whole":       string(whole),
		"per-feature": `{"inputs": [` + strings.Join(perFeature, ",") + `], "outputs": [{"name": "output"}]}`,
	} {
		for _, path := range []string{"/v2/models/completion/infer", "/v2/models/completion/versions/1/infer"} {
			code, body := post(t, env.httpURL+path, req)
			if code != 200 {
				t.Fatalf("%s %s: %d %s", name, path, code, body)
			}
			var or oipResponse
			if err := json.Unmarshal(body, &or); err != nil {
				t.Fatal(err)
			}
			if or.ModelName != "completion" || or.ModelVersion != "1" || len(or.Outputs) != 1 || or.Outputs[0].Name != "output" ||
				fmt.Sprint(or.Outputs[0].Shape) != "[3 1]" || (name == "whole") != (or.ID == "r1") {
				t.Fatalf("%s: response %s", name, body)
			}
			for i, v := range or.Outputs[0].Data {
				if float32(v) != want[i] {
					t.Fatalf("%s: output %d = %v, want %v", name, i, v, want[i])
				}
			}
		}
	}

	// OIP over gRPC, typed and raw.
	ctx := context.Background()
	typed, err := env.infer.ModelInfer(ctx, &inference.ModelInferRequest{ModelName: "completion",
		Inputs: []*inference.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{3, int64(len(env.cols))},
			Contents: &inference.InferTensorContents{Fp32Contents: x}}}})
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	rawResp, err := env.infer.ModelInfer(ctx, &inference.ModelInferRequest{ModelName: "completion", ModelVersion: "1",
		Inputs:           []*inference.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{3, int64(len(env.cols))}}},
		RawInputContents: [][]byte{raw}})
	if err != nil {
		t.Fatal(err)
	}
	got := typed.GetOutputs()[0].GetContents().GetFp32Contents()
	rawOut := rawResp.GetRawOutputContents()
	if len(got) != 3 || len(rawOut) != 1 || len(rawOut[0]) != 12 {
		t.Fatalf("gRPC outputs %v / raw %v", typed, rawResp)
	}
	for i := range 3 {
		if got[i] != want[i] || math.Float32frombits(binary.LittleEndian.Uint32(rawOut[0][4*i:])) != want[i] {
			t.Fatalf("gRPC output %d: typed %v raw %x, want %v", i, got[i], rawOut[0][4*i:4*i+4], want[i])
		}
	}
	md, err := env.infer.ModelMetadata(ctx, &inference.ModelMetadataRequest{Name: "completion"})
	if err != nil || md.GetPlatform() != oipPlatform || fmt.Sprint(md.GetVersions()) != "[1]" || fmt.Sprint(md.GetInputs()[0].GetShape()) != fmt.Sprintf("[-1 %d]", len(env.cols)) {
		t.Fatalf("ModelMetadata %v, %v", md, err)
	}
	ready, err := env.infer.ModelReady(ctx, &inference.ModelReadyRequest{Name: "completion"})
	if err != nil || !ready.GetReady() {
		t.Fatalf("ModelReady %v, %v", ready, err)
	}
	if _, err := env.infer.ModelReady(ctx, &inference.ModelReadyRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("ModelReady(nope): %v", err)
	}
	sr, err := env.infer.ServerReady(ctx, &inference.ServerReadyRequest{})
	if err != nil || !sr.GetReady() {
		t.Fatalf("ServerReady %v %v", sr, err)
	}
}

// jsonNum is a float32 as JSON writes it, with NaN as null.
func jsonNum(v float32) any {
	if v != v {
		return nil
	}
	return float64(v)
}

// TestModelHotLoad registers a second version while the server runs: it is
// served at once and becomes the default.
func TestModelHotLoad(t *testing.T) {
	env := startModels(t)
	env.register(t, randomModel(t, env.cols, nil, 1))
	code, body := post(t, env.httpURL+"/v1/predict", predictBody)
	if code != 200 || !strings.Contains(string(body), `"model_version":"1"`) {
		t.Fatalf("v1: %d %s", code, body)
	}
	env.register(t, randomModel(t, env.cols, []int{3}, 2))
	code, body = post(t, env.httpURL+"/v1/predict", predictBody)
	if code != 200 || !strings.Contains(string(body), `"model_version":"2"`) {
		t.Fatalf("after registering v2: %d %s", code, body)
	}
	code, body = post(t, env.httpURL+"/v1/predict", strings.Replace(predictBody, `"model": "completion"`, `"model": "completion", "version": 1`, 1))
	if code != 200 || !strings.Contains(string(body), `"model_version":"1"`) {
		t.Fatalf("pinned v1: %d %s", code, body)
	}
	st, b := httpGetBody(t, env.httpURL+"/v2/models/completion")
	if st != 200 || !strings.Contains(b, `"versions":["1","2"]`) {
		t.Fatalf("metadata: %d %s", st, b)
	}
	list, err := env.models.ListModelVersions(context.Background(), &fstorev1.ListModelVersionsRequest{})
	if err != nil || len(list.GetVersions()) != 2 {
		t.Fatalf("ListModelVersions: %v %v", list, err)
	}
}

func httpGetBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestModelErrors checks the status and message of bad model requests and
// registrations, and that a refused registration writes nothing.
func TestModelErrors(t *testing.T) {
	env := startModels(t)
	m := randomModel(t, env.cols, []int{4}, 1)
	env.register(t, m)
	n := len(env.cols)
	row := strings.TrimSuffix(strings.Repeat("1,", n), ",")
	cases := []struct {
		path, body string
		code       int
		msg        string
	}{
		{"/v2/models/nope/infer", `{"inputs": []}`, 404, `unknown model "nope"`},
		{"/v2/models/completion/versions/7/infer", `{}`, 404, `model "completion" has no version 7 (versions: 1)`},
		{"/v2/models/completion/versions/x/infer", `{}`, 400, `version "x": want a positive integer`},
		{"/v2/models/completion/infer", `{"inputs": [`, 400, "malformed JSON at byte"},
		{"/v2/models/completion/infer", `{"inputs": [], "extra": 1}`, 400, `unknown field "extra"`},
		{"/v2/models/completion/infer", `{"inputs": []}`, 400, "inputs: want at least one tensor"},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}`, 400, fmt.Sprintf("shape [1 3]: want [N, %d]", n)},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "input", "datatype": "FP16", "shape": [1, ` + fmt.Sprint(n) + `], "data": [` + row + `]}]}`, 400, `datatype "FP16"`},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, ` + fmt.Sprint(n) + `], "data": [` + row + `, 1]}]}`, 400, "data has more than the " + fmt.Sprint(n) + " elements"},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "input", "datatype": "FP32", "shape": [2, ` + fmt.Sprint(n) + `], "data": [` + row + `]}]}`, 400, fmt.Sprintf("data has %d elements", n)},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, ` + fmt.Sprint(n) + `], "data": ["a"]}]}`, 400, `data[0]: want a number, got "a"`},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "inptu", "datatype": "FP32", "shape": [1], "data": [1]}]}`, 400, `unknown tensor "inptu"`},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "` + env.cols[0] + `", "datatype": "FP32", "shape": [1], "data": [1]}]}`, 400, fmt.Sprintf("1 of the model's %d input features given", n)},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "` + env.cols[0] + `", "datatype": "FP32", "shape": [1], "data": [1]}, {"name": "` + env.cols[0] + `", "datatype": "FP32", "shape": [1], "data": [1]}]}`, 400, "is given twice"},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "` + env.cols[0] + `", "datatype": "BOOL", "shape": [1], "data": [1]}]}`, 400, "want true or false"},
		{"/v2/models/completion/infer", `{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, ` + fmt.Sprint(n) + `], "data": [` + row + `]}], "outputs": [{"name": "proba"}]}`, 400, `unknown output "proba"`},
		{"/v1/predict", `{"entities": {"driver_id": [1]}}`, 400, "model: missing"},
		{"/v1/predict", `{"model": "completion", "entities": {"driver_id": [1]}}`, 400, `missing join key "rider_id"`},
		{"/v1/predict", `{"model": "completion", "version": "9", "entities": {"driver_id": [1]}}`, 404, "has no version 9"},
		{"/v1/predict", `{"model": "completion", "entities": {"driver_id": [1]}, "explain": true}`, 400, `unknown field "explain"`},
	}
	for _, c := range cases {
		code, body := post(t, env.httpURL+c.path, c.body)
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if code != c.code || !strings.Contains(e.Error, c.msg) {
			t.Errorf("POST %s %s: %d %s, want %d containing %q", c.path, c.body, code, body, c.code, c.msg)
		}
	}
	if st, b := httpGetBody(t, env.httpURL+"/v2/models/completion/infer"); st != 405 {
		t.Errorf("GET infer: %d %s", st, b)
	}
	if st, b := httpGetBody(t, env.httpURL+"/v2/models/completion/versions/1/ready"); st != 200 {
		t.Errorf("ready: %d %s", st, b)
	}
	if st, b := httpGetBody(t, env.httpURL+"/v2/health/live"); st != 200 {
		t.Errorf("live: %d %s", st, b)
	}

	// The same refusals over gRPC.
	ctx := context.Background()
	for _, c := range []struct {
		req  *inference.ModelInferRequest
		code codes.Code
		msg  string
	}{
		{&inference.ModelInferRequest{ModelName: "nope"}, codes.NotFound, `unknown model "nope"`},
		{&inference.ModelInferRequest{ModelName: "completion", ModelVersion: "3"}, codes.NotFound, "has no version 3"},
		{&inference.ModelInferRequest{ModelName: "completion"}, codes.InvalidArgument, "inputs: want at least one tensor"},
		{&inference.ModelInferRequest{ModelName: "completion", Inputs: []*inference.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 2},
			Contents: &inference.InferTensorContents{Fp32Contents: []float32{1, 2}}}}}, codes.InvalidArgument, fmt.Sprintf("want [N, %d]", n)},
		{&inference.ModelInferRequest{ModelName: "completion", Inputs: []*inference.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, int64(n)},
			Contents: &inference.InferTensorContents{Fp64Contents: []float64{1}}}}}, codes.InvalidArgument, fmt.Sprintf("contents have 0 elements of FP32, the shape needs %d", n)},
		{&inference.ModelInferRequest{ModelName: "completion", Inputs: []*inference.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, int64(n)}}},
			RawInputContents: [][]byte{make([]byte, 3)}}, codes.InvalidArgument, fmt.Sprintf("raw contents are 3 bytes, the shape needs %d elements of FP32 (%d bytes)", n, 4*n)},
		{&inference.ModelInferRequest{ModelName: "completion", Inputs: []*inference.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, int64(n)}}},
			RawInputContents: [][]byte{{}, {}}}, codes.InvalidArgument, "raw_input_contents: 2 entries for 1 inputs"},
	} {
		_, err := env.infer.ModelInfer(ctx, c.req)
		if status.Code(err) != c.code || !strings.Contains(status.Convert(err).Message(), c.msg) {
			t.Errorf("ModelInfer %v: %v, want %s containing %q", c.req, err, c.code, c.msg)
		}
	}

	// Registrations that must be refused, writing nothing.
	good, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)/2] ^= 0xff
	notInService := randomModel(t, append([]string{"driver_hourly__avg_daily_trips"}, env.cols[1:]...), nil, 4)
	nis, _ := notInService.MarshalBinary()
	regs := []struct {
		name     string
		req      *fstorev1.RegisterModelVersionRequest
		code     codes.Code
		contains string
	}{
		{"truncated", &fstorev1.RegisterModelVersionRequest{Model: "completion", Artifact: good[:len(good)-9]}, codes.InvalidArgument, "model artifact"},
		{"corrupt", &fstorev1.RegisterModelVersionRequest{Model: "completion", Artifact: corrupt}, codes.InvalidArgument, "model artifact"},
		{"empty", &fstorev1.RegisterModelVersionRequest{Model: "completion"}, codes.InvalidArgument, "model artifact"},
		{"undefined model", &fstorev1.RegisterModelVersionRequest{Model: "churn", Artifact: good}, codes.InvalidArgument, `model "churn" is not defined`},
		{"input not in service", &fstorev1.RegisterModelVersionRequest{Model: "completion", Artifact: nis}, codes.InvalidArgument, `input "driver_hourly__avg_daily_trips" is not a feature of its feature service "trip_completion"`},
	}
	for _, r := range regs {
		_, err := env.models.RegisterModelVersion(context.Background(), r.req)
		if status.Code(err) != r.code || !strings.Contains(status.Convert(err).Message(), r.contains) {
			t.Errorf("%s: %v, want %s containing %q", r.name, err, r.code, r.contains)
		}
	}
	list, err := env.models.ListModelVersions(context.Background(), &fstorev1.ListModelVersionsRequest{Model: "completion"})
	if err != nil || len(list.GetVersions()) != 1 {
		t.Fatalf("after refused registrations: %v %v", list, err)
	}
	if _, err := env.models.GetModelVersion(context.Background(), &fstorev1.GetModelVersionRequest{Model: "completion", Version: 5}); status.Code(err) != codes.NotFound {
		t.Errorf("GetModelVersion(5): %v", err)
	}
	if _, err := env.models.ListModelVersions(context.Background(), &fstorev1.ListModelVersionsRequest{Model: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("ListModelVersions(nope): %v", err)
	}
}

// TestPredictNonNumericInput: a model input that is not a number or a
// boolean (possible after a registry change, or for an artifact trained
// elsewhere) makes /v1/predict answer 503 naming the input, never a panic;
// OIP requests, which bring their own tensors, still work.
func TestPredictNonNumericInput(t *testing.T) {
	env := startModels(t)
	p := registry.FromDef(env.store.Registry().Latest().Defs)
	for _, s := range p.GetFeatureServices() {
		if s.GetName() == "trip_completion" {
			s.Features = append(s.Features, "rider_profile:segment")
		}
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := env.store.Registry().Latest().Version
	if _, err := env.store.Registry().Apply(d, registry.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	inputs := append(append([]string(nil), env.cols...), "rider_profile__segment")
	env.register(t, randomModel(t, inputs, nil, 1))
	for env.httpCatalogVersion(t) == before {
		time.Sleep(5 * time.Millisecond)
	}
	code, body := post(t, env.httpURL+"/v1/predict", predictBody)
	if code != 503 || !strings.Contains(string(body), "rider_profile__segment is a STRING feature") {
		t.Fatalf("predict with a STRING input: %d %s", code, body)
	}
	row := strings.TrimSuffix(strings.Repeat("1,", len(inputs)), ",")
	code, body = post(t, env.httpURL+"/v2/models/completion/infer", fmt.Sprintf(`{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, %d], "data": [%s]}]}`, len(inputs), row))
	if code != 200 {
		t.Fatalf("OIP: %d %s", code, body)
	}
}

// httpCatalogVersion is the registry version the feature server serves.
func (env *modelEnv) httpCatalogVersion(t *testing.T) uint64 {
	t.Helper()
	_, b := httpGetBody(t, env.httpURL+"/metrics")
	for _, line := range strings.Split(b, "\n") {
		if v, ok := strings.CutPrefix(line, "fstore_registry_version "); ok {
			var n uint64
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatal("no fstore_registry_version in /metrics")
	return 0
}
