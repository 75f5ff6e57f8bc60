package serve

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// servingServer implements fstorev1.ServingServiceServer on the same
// request path as the HTTP endpoints.
type servingServer struct {
	fstorev1.UnimplementedServingServiceServer
	fs *featureServer
}

// GetOnlineFeatures implements the gRPC feature read. Entity columns come
// first, sorted by name (a protobuf map has no order).
func (s servingServer) GetOnlineFeatures(ctx context.Context, req *fstorev1.GetOnlineFeaturesRequest) (*fstorev1.GetOnlineFeaturesResponse, error) {
	fs := s.fs
	start := time.Now()
	r := fs.acquire()
	defer fs.release(r)
	err := r.decodeProto(req)
	if err == nil {
		err = r.resolve()
	}
	if err == nil {
		c, cancel := context.WithTimeout(ctx, fs.lim.RequestTimeout)
		err = r.execute(c, fs.store, fs.m, fs.now().UnixMicro())
		cancel()
	}
	if err != nil {
		c := code(err)
		fs.m.failed(errorKind(c))
		fs.m.request(epGRPCGetOnlineFeatures, httpStatus(c), start, 0, 0)
		return nil, status.Error(c, err.Error())
	}
	resp := r.appendProto()
	fs.observeSkew(r, start)
	fs.m.request(epGRPCGetOnlineFeatures, 200, start, r.n, len(r.use.features))
	return resp, nil
}

func (r *onlineRequest) decodeProto(req *fstorev1.GetOnlineFeaturesRequest) error {
	r.full = req.GetFullFeatureNames()
	switch k := req.GetKind().(type) {
	case *fstorev1.GetOnlineFeaturesRequest_Features:
		for i, ref := range k.Features.GetVal() {
			if err := r.addRef(ref); err != nil {
				return fmt.Errorf("features[%d]: %w", i, err)
			}
		}
	case *fstorev1.GetOnlineFeaturesRequest_FeatureService:
		if k.FeatureService == "" {
			return badRequest("feature_service: want a non-empty name")
		}
		r.service = k.FeatureService
	default:
		return badRequest("no features requested: set features or feature_service")
	}
	addCols(r, &r.ents, "entities", req.GetEntities())
	addCols(r, &r.reqCtx, "request_context", req.GetRequestContext())
	return nil
}

func addCols(r *onlineRequest, list *[]inputCol, field string, m map[string]*fstorev1.RepeatedValue) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := r.addInput(list, name, field)
		c.pb = m[name].GetVal()
		if c.pb == nil {
			c.pb = []*fstorev1.Value{}
		}
	}
}

// fillPB converts protobuf values into c, reset to its type and length
// with every row valid.
func fillPB(c *compute.Column, vals []*fstorev1.Value) error {
	for i, v := range vals {
		ok := false
		switch k := v.GetKind().(type) {
		case nil, *fstorev1.Value_NullVal:
			c.Valid.Clear(i)
			continue
		case *fstorev1.Value_Int64Val:
			switch c.Type {
			case def.Int64:
				c.I64[i], ok = k.Int64Val, true
			case def.Timestamp:
				c.I64[i], ok = k.Int64Val, true
			case def.Double:
				c.F64[i], ok = float64(k.Int64Val), true
			}
		case *fstorev1.Value_DoubleVal:
			if c.Type == def.Double {
				c.F64[i], ok = k.DoubleVal, true
			}
		case *fstorev1.Value_BoolVal:
			if c.Type == def.Bool {
				c.B[i], ok = k.BoolVal, true
			}
		case *fstorev1.Value_StringVal:
			if c.Type == def.String {
				c.S[i], ok = k.StringVal, true
			}
		case *fstorev1.Value_TimestampVal:
			if c.Type == def.Timestamp {
				if err := k.TimestampVal.CheckValid(); err == nil {
					c.I64[i], ok = k.TimestampVal.AsTime().UnixMicro(), true
				}
			}
		}
		if !ok {
			return &valueError{i: i, msg: fmt.Sprintf("want %s, got %s", c.Type, pbKind(v))}
		}
	}
	return nil
}

func pbKind(v *fstorev1.Value) string {
	switch v.GetKind().(type) {
	case *fstorev1.Value_Int64Val:
		return "int64_val"
	case *fstorev1.Value_DoubleVal:
		return "double_val"
	case *fstorev1.Value_BoolVal:
		return "bool_val"
	case *fstorev1.Value_StringVal:
		return "string_val"
	case *fstorev1.Value_TimestampVal:
		return "an invalid timestamp_val"
	}
	return "null"
}

// appendProto builds r's response message. Values of one column are
// allocated together.
func (r *onlineRequest) appendProto() *fstorev1.GetOnlineFeaturesResponse {
	names := make([]string, 0, len(r.ents)+len(r.use.features))
	for i := range r.ents {
		names = append(names, r.ents[i].name)
	}
	for i := range r.use.features {
		names = append(names, r.featureName(&r.use.features[i]))
	}
	resp := &fstorev1.GetOnlineFeaturesResponse{
		Metadata: &fstorev1.GetOnlineFeaturesResponseMetadata{
			FeatureNames:    &fstorev1.FeatureList{Val: names},
			RegistryVersion: r.cat.version,
		},
		Results: make([]*fstorev1.GetOnlineFeaturesResponse_FeatureVector, 0, len(names)),
	}
	epoch := timestamppb.New(time.Unix(0, 0))
	for i := range r.ents {
		resp.Results = append(resp.Results, r.protoColumn(&r.ents[i].col, nil, nil, epoch))
	}
	for i := range r.use.features {
		col, st, ts := r.value(&r.use.features[i])
		resp.Results = append(resp.Results, r.protoColumn(col, st, ts, epoch))
	}
	return resp
}

func (r *onlineRequest) protoColumn(c *compute.Column, st []featurestore.Status, ts []int64, epoch *timestamppb.Timestamp) *fstorev1.GetOnlineFeaturesResponse_FeatureVector {
	n := r.n
	fv := &fstorev1.GetOnlineFeaturesResponse_FeatureVector{
		Values:          make([]*fstorev1.Value, n),
		Statuses:        make([]fstorev1.FieldStatus, n),
		EventTimestamps: make([]*timestamppb.Timestamp, n),
	}
	vals := make([]fstorev1.Value, n)
	for i := 0; i < n; i++ {
		v := &vals[i]
		fv.Values[i] = v
		// The proto enum numbers are Feast's, as featurestore.Status's are.
		fv.Statuses[i] = fstorev1.FieldStatus(statusAt(c, st, i))
		if ts == nil || ts[i] == 0 {
			fv.EventTimestamps[i] = epoch
		} else {
			fv.EventTimestamps[i] = timestamppb.New(time.UnixMicro(ts[i]))
		}
		if c.Null(i) {
			v.Kind = &fstorev1.Value_NullVal{NullVal: structpb.NullValue_NULL_VALUE}
			continue
		}
		switch c.Type {
		case def.Int64:
			v.Kind = &fstorev1.Value_Int64Val{Int64Val: c.I64[i]}
		case def.Double:
			v.Kind = &fstorev1.Value_DoubleVal{DoubleVal: c.F64[i]}
		case def.Bool:
			v.Kind = &fstorev1.Value_BoolVal{BoolVal: c.B[i]}
		case def.String:
			v.Kind = &fstorev1.Value_StringVal{StringVal: c.S[i]}
		case def.Timestamp:
			v.Kind = &fstorev1.Value_TimestampVal{TimestampVal: timestamppb.New(time.UnixMicro(c.I64[i]))}
		}
	}
	return fv
}

// Push implements the gRPC push.
func (s servingServer) Push(ctx context.Context, req *fstorev1.PushRequest) (*fstorev1.PushResponse, error) {
	fs := s.fs
	start := time.Now()
	cat := fs.cat.Load()
	name, events, err := decodePushProto(cat, req, fs.lim.MaxEntities)
	if err == nil {
		err = fs.checkPushValues(cat, name, events, "columns")
	}
	var res pushResult
	if err == nil {
		c, cancel := context.WithTimeout(ctx, fs.lim.RequestTimeout)
		res, err = fs.pushEvents(c, cat, name, events)
		cancel()
	}
	if err != nil {
		c := code(err)
		fs.m.failed(errorKind(c))
		fs.m.request(epGRPCPush, httpStatus(c), start, 0, 0)
		return nil, status.Error(c, err.Error())
	}
	resp := &fstorev1.PushResponse{Events: int64(events.Len)}
	for _, v := range res.views {
		resp.Views = append(resp.Views, &fstorev1.PushResponse_ViewPush{View: v.view, Applied: v.stats.Applied, Entities: v.stats.Entities})
	}
	fs.m.request(epGRPCPush, 200, start, events.Len, 0)
	return resp, nil
}

func decodePushProto(cat *catalog, req *fstorev1.PushRequest, maxEvents int) (string, *compute.Batch, error) {
	name := req.GetPushSourceName()
	src := cat.ix.Source(name)
	if name == "" {
		return "", nil, badRequest("push_source_name: missing")
	}
	if src == nil || len(cat.pushSources[name]) == 0 {
		if src != nil {
			return "", nil, badRequest("push_source_name: source %q is not a push source read by an online view", name)
		}
		return "", nil, &notFoundError{what: "push source", name: name}
	}
	cols := req.GetColumns()
	names := make([]string, 0, len(cols))
	for n := range cols {
		names = append(names, n)
	}
	sort.Strings(names)
	b := featurestore.NewEventBuilder(src)
	n := -1
	for _, col := range names {
		vals := cols[col].GetVal()
		i, err := b.Field(col)
		if err != nil {
			return "", nil, badRequest("columns: %v", err)
		}
		if n < 0 {
			n = len(vals)
			if n > maxEvents {
				return "", nil, badRequest("columns: %d events, more than the limit of %d", n, maxEvents)
			}
			for range n {
				b.AddRow()
			}
		} else if len(vals) != n {
			return "", nil, badRequest("columns: %q has %d values but %q has %d", col, len(vals), names[0], n)
		}
		var c compute.Column
		c.ResetBitmap(b.Type(i), n, false)
		if err := fillPB(&c, vals); err != nil {
			return "", nil, badRequest("columns.%s%v", col, err)
		}
		for row := 0; row < n; row++ {
			if c.Null(row) {
				continue
			}
			b.Row(row)
			b.SetFrom(i, &c, row)
		}
	}
	return name, b.Batch(), nil
}
