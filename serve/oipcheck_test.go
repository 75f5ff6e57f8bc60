package serve

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/third_party/oip/inference"
)

// TestInferRange: an OIP element outside its datatype's range, or not an
// integer for an integer datatype, is refused naming the element, over
// HTTP and gRPC; the edges of each range are taken.
func TestInferRange(t *testing.T) {
	env := startModels(t)
	env.register(t, randomModel(t, env.cols, []int{4}, 1))
	n := len(env.cols)
	// The whole input matrix, one row, with v as element 3.
	body := func(dt, v string) string {
		row := make([]string, n)
		for i := range row {
			row[i] = "1"
		}
		row[3] = v
		return fmt.Sprintf(`{"inputs":[{"name":"input","datatype":%q,"shape":[1,%d],"data":[%s]}]}`, dt, n, strings.Join(row, ","))
	}
	for _, c := range []struct{ dt, v, want string }{
		{"INT8", "300", "inputs[0] (input): data[3]: 300 is outside INT8's range [-128, 127]"},
		{"INT8", "128", "inputs[0] (input): data[3]: 128 is outside INT8's range [-128, 127]"},
		{"INT8", "-129", "inputs[0] (input): data[3]: -129 is outside INT8's range [-128, 127]"},
		{"INT8", "1.5", "inputs[0] (input): data[3]: 1.5 is not an integer (datatype INT8)"},
		{"INT32", "2147483648", "inputs[0] (input): data[3]: 2147483648 is outside INT32's range [-2147483648, 2147483647]"},
		{"INT64", "1e19", "inputs[0] (input): data[3]: 1e19 is outside INT64's range [-9223372036854775808, 9223372036854775807]"},
		{"UINT8", "-1", "inputs[0] (input): data[3]: -1 is outside UINT8's range [0, 255]"},
		{"UINT16", "65536", "inputs[0] (input): data[3]: 65536 is outside UINT16's range [0, 65535]"},
		{"UINT64", "0.5", "inputs[0] (input): data[3]: 0.5 is not an integer (datatype UINT64)"},
		{"INT16", "NaN", "inputs[0] (input): data[3]: NaN is not an integer (datatype INT16)"},
		{"FP32", "1e400", "inputs[0] (input): data[3]: 1e400 is outside FP32's finite range (send NaN or null for a missing value)"},
		{"FP32", "3.5e38", "inputs[0] (input): data[3]: 3.5e38 is outside FP32's finite range (send NaN or null for a missing value)"},
		{"FP32", "-Inf", "inputs[0] (input): data[3]: -Inf is outside FP32's finite range (send NaN or null for a missing value)"},
		{"FP64", "1e400", "inputs[0] (input): data[3]: 1e400 is outside FP64's finite range (send NaN or null for a missing value)"},
		{"FP64", "1e300", "inputs[0] (input): data[3]: 1e300 is outside the range of the model's FP32 inputs (±3.4028235e+38)"},
	} {
		code, b := post(t, env.httpURL+"/v2/models/completion/infer", body(c.dt, c.v))
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		if code != 400 || e.Error != c.want {
			t.Errorf("%s %s: %d %s\n want 400 %q", c.dt, c.v, code, b, c.want)
		}
	}
	for _, c := range []struct{ dt, v string }{
		{"INT8", "127"}, {"INT8", "-128"}, {"INT8", "2.0"}, {"INT8", "null"}, {"UINT8", "255"}, {"UINT8", "0"},
		{"INT64", "-9223372036854775808"}, {"UINT64", "18446744073709549568"}, {"UINT32", "4294967295"},
		{"FP32", "3.4028234e38"}, {"FP32", "-3.4028234e38"}, {"FP32", "1e-50"}, {"FP32", "NaN"}, {"FP64", "-3.4e38"}, {"FP64", "null"},
	} {
		if code, b := post(t, env.httpURL+"/v2/models/completion/infer", body(c.dt, c.v)); code != 200 {
			t.Errorf("%s %s: %d %s, want 200", c.dt, c.v, code, b)
		}
	}

	// gRPC, typed contents and raw little-endian contents.
	ctx := context.Background()
	infer := func(dt string, c *inference.InferTensorContents, raw []byte) error {
		req := &inference.ModelInferRequest{ModelName: "completion", Inputs: []*inference.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: dt, Shape: []int64{1, int64(n)}, Contents: c}}}
		if raw != nil {
			req.RawInputContents = [][]byte{raw}
		}
		_, err := env.infer.ModelInfer(ctx, req)
		return err
	}
	ints := func(v int32) []int32 {
		x := make([]int32, n)
		x[3] = v
		return x
	}
	f64s := func(v float64) []float64 {
		x := make([]float64, n)
		x[3] = v
		return x
	}
	f32raw := func(v float32) []byte {
		b := make([]byte, 4*n)
		binary.LittleEndian.PutUint32(b[12:], math.Float32bits(v))
		return b
	}
	boolRaw := make([]byte, n)
	boolRaw[3] = 2
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"INT8 300", infer("INT8", &inference.InferTensorContents{IntContents: ints(300)}, nil), "inputs[0] (input): contents[3]: 300 is outside INT8's range [-128, 127]"},
		{"UINT8 256", infer("UINT8", &inference.InferTensorContents{UintContents: []uint32{0, 0, 0, 256, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}[:n]}, nil), "inputs[0] (input): contents[3]: 256 is outside UINT8's range [0, 255]"},
		{"FP64 +Inf", infer("FP64", &inference.InferTensorContents{Fp64Contents: f64s(math.Inf(1))}, nil), "inputs[0] (input): contents[3]: +Inf is outside FP64's finite range (send NaN or null for a missing value)"},
		{"FP64 1e300", infer("FP64", &inference.InferTensorContents{Fp64Contents: f64s(1e300)}, nil), "inputs[0] (input): contents[3]: 1e+300 is outside the range of the model's FP32 inputs (±3.4028235e+38)"},
		{"FP32 raw -Inf", infer("FP32", nil, f32raw(float32(math.Inf(-1)))), "inputs[0] (input): raw contents[3]: -Inf is outside FP32's finite range (send NaN or null for a missing value)"},
		{"BOOL raw 2", infer("BOOL", nil, boolRaw), "inputs[0] (input): raw contents[3]: 2 is not a BOOL (want 0 or 1)"},
	} {
		if status.Code(c.err) != codes.InvalidArgument || status.Convert(c.err).Message() != c.want {
			t.Errorf("gRPC %s: %v\n want InvalidArgument %q", c.name, c.err, c.want)
		}
	}
	for name, err := range map[string]error{
		"INT8 -128":  infer("INT8", &inference.InferTensorContents{IntContents: ints(-128)}, nil),
		"FP64 NaN":   infer("FP64", &inference.InferTensorContents{Fp64Contents: f64s(math.NaN())}, nil),
		"FP32 raw 7": infer("FP32", nil, f32raw(7)),
	} {
		if err != nil {
			t.Errorf("gRPC %s: %v", name, err)
		}
	}
}
