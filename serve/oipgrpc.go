package serve

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/fstore/fstore/third_party/oip/inference"
)

// inferenceServer implements the Open Inference Protocol's gRPC service
// (inference.GRPCInferenceService) over the same models, batchers and
// errors as the HTTP endpoints.
type inferenceServer struct {
	inference.UnimplementedGRPCInferenceServiceServer
	fs    *featureServer
	ms    *modelServer
	ready func() bool
}

func (s *inferenceServer) ServerLive(context.Context, *inference.ServerLiveRequest) (*inference.ServerLiveResponse, error) {
	return &inference.ServerLiveResponse{Live: true}, nil
}

func (s *inferenceServer) ServerReady(context.Context, *inference.ServerReadyRequest) (*inference.ServerReadyResponse, error) {
	return &inference.ServerReadyResponse{Ready: s.ready()}, nil
}

func (s *inferenceServer) ModelReady(_ context.Context, req *inference.ModelReadyRequest) (*inference.ModelReadyResponse, error) {
	_, err := s.ms.lookup(req.GetName(), req.GetVersion())
	if err != nil && code(err) != codes.Unavailable {
		return nil, grpcError(err)
	}
	return &inference.ModelReadyResponse{Ready: err == nil}, nil
}

func (s *inferenceServer) ServerMetadata(context.Context, *inference.ServerMetadataRequest) (*inference.ServerMetadataResponse, error) {
	return &inference.ServerMetadataResponse{Name: "fstore", Version: Version, Extensions: []string{}}, nil
}

func (s *inferenceServer) ModelMetadata(_ context.Context, req *inference.ModelMetadataRequest) (*inference.ModelMetadataResponse, error) {
	sm, err := s.ms.lookup(req.GetName(), req.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &inference.ModelMetadataResponse{
		Name:     sm.mv.GetModel(),
		Platform: oipPlatform,
		Inputs:   []*inference.ModelMetadataResponse_TensorMetadata{{Name: oipInput, Datatype: "FP32", Shape: []int64{-1, int64(len(sm.m.Inputs))}}},
		Outputs:  []*inference.ModelMetadataResponse_TensorMetadata{{Name: oipOutput, Datatype: "FP32", Shape: []int64{-1, 1}}},
	}
	if e := s.ms.cat.Load().models[sm.mv.GetModel()]; e != nil {
		resp.Versions = e.versionNames()
	}
	return resp, nil
}

// ModelInfer runs one inference request. Inputs come as typed contents or
// as raw little-endian bytes (raw_input_contents, one entry per input);
// the output is returned the same way the request sent its inputs.
func (s *inferenceServer) ModelInfer(ctx context.Context, req *inference.ModelInferRequest) (*inference.ModelInferResponse, error) {
	start := time.Now()
	resp, err := s.infer(ctx, req, start)
	if err != nil {
		s.fs.m.failed(errorKind(code(err)))
		s.fs.m.request(epGRPCInfer, httpStatus(code(err)), start, 0, 0)
		return nil, grpcError(err)
	}
	return resp, nil
}

func (s *inferenceServer) infer(ctx context.Context, req *inference.ModelInferRequest, start time.Time) (*inference.ModelInferResponse, error) {
	sm, err := s.ms.lookup(req.GetModelName(), req.GetModelVersion())
	if err != nil {
		return nil, err
	}
	for i, o := range req.GetOutputs() {
		if o.GetName() != oipOutput {
			return nil, badRequest("outputs[%d]: unknown output %q (the model has one output, %q)", i, o.GetName(), oipOutput)
		}
	}
	raw := req.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(req.GetInputs()) {
		return nil, badRequest("raw_input_contents: %d entries for %d inputs; want one per input", len(raw), len(req.GetInputs()))
	}
	if len(req.GetInputs()) == 0 {
		return nil, badRequest("inputs: want at least one tensor")
	}
	st := inferPool.Get().(*inferState)
	defer inferPool.Put(st)
	rows, filled := -1, 0
	for i, t := range req.GetInputs() {
		p, err := st.place(i, t.GetName(), t.GetDatatype(), t.GetShape(), sm, &rows, s.fs.lim.MaxEntities)
		if err != nil {
			return nil, err
		}
		if len(raw) > 0 {
			if t.GetContents() != nil {
				return nil, badRequest("inputs[%d] (%s): contents and raw_input_contents both given; use one", i, t.GetName())
			}
			err = fillRaw(st.x, p, t.GetDatatype(), raw[i])
		} else {
			err = fillContents(st.x, p, t.GetDatatype(), t.GetContents())
		}
		if err != nil {
			return nil, badRequest("inputs[%d] (%s): %v", i, t.GetName(), err)
		}
		filled += p.filled
	}
	if nin := len(sm.m.Inputs); filled != nin {
		return nil, badRequest("inputs: %d of the model's %d input features given; send %q of shape [N, %d] or one tensor per feature", filled, nin, oipInput, nin)
	}
	deadline := start.Add(s.fs.lim.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	st.out = grow32(st.out, rows)
	if err := sm.b.infer(st.x, rows, st.out, deadline); err != nil {
		return nil, err
	}
	out := &inference.ModelInferResponse_InferOutputTensor{Name: oipOutput, Datatype: "FP32", Shape: []int64{int64(rows), 1}}
	resp := &inference.ModelInferResponse{ModelName: sm.mv.GetModel(), ModelVersion: sm.ver, Id: req.GetId(), Outputs: []*inference.ModelInferResponse_InferOutputTensor{out}}
	if len(raw) > 0 {
		b := make([]byte, 4*rows)
		for i, v := range st.out[:rows] {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		resp.RawOutputContents = [][]byte{b}
	} else {
		out.Contents = &inference.InferTensorContents{Fp32Contents: append([]float32(nil), st.out[:rows]...)}
	}
	s.fs.m.request(epGRPCInfer, 200, start, rows, len(sm.m.Inputs))
	return resp, nil
}

// fillContents copies typed contents into x, refusing an element
// outside dt's range (oipRange) by its index.
func fillContents(x []float32, p placement, dt string, c *inference.InferTensorContents) error {
	var n int
	get := func(int) float64 { return 0 }
	switch dt {
	case "FP32":
		v := c.GetFp32Contents()
		n, get = len(v), func(k int) float64 { return float64(v[k]) }
	case "FP64":
		v := c.GetFp64Contents()
		n, get = len(v), func(k int) float64 { return v[k] }
	case "INT8", "INT16", "INT32":
		v := c.GetIntContents()
		n, get = len(v), func(k int) float64 { return float64(v[k]) }
	case "INT64":
		v := c.GetInt64Contents()
		n, get = len(v), func(k int) float64 { return float64(v[k]) }
	case "UINT8", "UINT16", "UINT32":
		v := c.GetUintContents()
		n, get = len(v), func(k int) float64 { return float64(v[k]) }
	case "UINT64":
		v := c.GetUint64Contents()
		n, get = len(v), func(k int) float64 { return float64(v[k]) }
	case "BOOL":
		v := c.GetBoolContents()
		n, get = len(v), func(k int) float64 {
			if v[k] {
				return 1
			}
			return 0
		}
	}
	if n != p.want {
		return fmt.Errorf("contents have %d elements of %s, the shape needs %d", n, dt, p.want)
	}
	r := oipRangeOf(dt)
	for k := range n {
		f := get(k)
		if !r.ok(f) {
			return fmt.Errorf("contents[%d]: %s", k, r.problem(f, ""))
		}
		p.put(x, k, float32(f))
	}
	return nil
}

// oipSize is the byte size of one element of datatype dt (one of
// oipDatatype's).
func oipSize(dt string) int {
	switch dt {
	case "INT8", "UINT8", "BOOL":
		return 1
	case "INT16", "UINT16":
		return 2
	case "FP32", "INT32", "UINT32":
		return 4
	}
	return 8
}

// fillRaw decodes little-endian raw contents into x.
func fillRaw(x []float32, p placement, dt string, b []byte) error {
	size := oipSize(dt)
	if len(b) != size*p.want {
		return fmt.Errorf("raw contents are %d bytes, the shape needs %d elements of %s (%d bytes)", len(b), p.want, dt, size*p.want)
	}
	le := binary.LittleEndian
	r := oipRangeOf(dt)
	for k := range p.want {
		var v float32
		switch dt {
		case "FP32":
			v = math.Float32frombits(le.Uint32(b[4*k:]))
		case "FP64":
			f := math.Float64frombits(le.Uint64(b[8*k:]))
			if !r.ok(f) {
				return fmt.Errorf("raw contents[%d]: %s", k, r.problem(f, ""))
			}
			v = float32(f)
		case "INT8":
			v = float32(int8(b[k]))
		case "INT16":
			v = float32(int16(le.Uint16(b[2*k:])))
		case "INT32":
			v = float32(int32(le.Uint32(b[4*k:])))
		case "INT64":
			v = float32(float64(int64(le.Uint64(b[8*k:]))))
		case "UINT8", "BOOL":
			v = float32(b[k])
		case "UINT16":
			v = float32(le.Uint16(b[2*k:]))
		case "UINT32":
			v = float32(le.Uint32(b[4*k:]))
		case "UINT64":
			v = float32(float64(le.Uint64(b[8*k:])))
		}
		if (dt == "FP32" || dt == "BOOL") && !r.ok(float64(v)) {
			return fmt.Errorf("raw contents[%d]: %s", k, r.problem(float64(v), ""))
		}
		p.put(x, k, v)
	}
	return nil
}
