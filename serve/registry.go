package serve

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// RegistryServer implements fstore.v1.RegistryService over a registry.
type RegistryServer struct {
	fstorev1.UnimplementedRegistryServiceServer
	reg *registry.Registry
	// stopping is done when the server starts shutting down; Watch streams
	// end then, instead of holding graceful shutdown for its whole timeout.
	stopping context.Context
}

// NewRegistryServer serves reg.
func NewRegistryServer(reg *registry.Registry) *RegistryServer {
	return &RegistryServer{reg: reg, stopping: context.Background()}
}

// compile converts request definitions; the registry validates them again
// with its expression checker when planning or applying.
func compile(p *fstorev1.Definitions) (*def.Definitions, error) {
	if p == nil {
		p = &fstorev1.Definitions{}
	}
	return registry.Compile(p, nil, nil)
}

// Apply validates and applies definitions.
func (s *RegistryServer) Apply(ctx context.Context, req *fstorev1.ApplyRequest) (*fstorev1.ApplyResponse, error) {
	d, err := compile(req.GetDefinitions())
	if err != nil {
		return nil, grpcError(err)
	}
	res, err := s.reg.Apply(d, registry.ApplyOptions{AllowBreaking: req.GetAllowBreaking(), Description: req.GetDescription()})
	if err != nil {
		return nil, grpcError(err)
	}
	return &fstorev1.ApplyResponse{
		Version: registry.VersionToProto(res.Snapshot.Info),
		Applied: res.Applied,
		Changes: registry.ChangesToProto(res.Changes),
	}, nil
}

// Plan reports what Apply would change.
func (s *RegistryServer) Plan(ctx context.Context, req *fstorev1.PlanRequest) (*fstorev1.PlanResponse, error) {
	d, err := compile(req.GetDefinitions())
	if err != nil {
		return nil, grpcError(err)
	}
	p, err := s.reg.Plan(d)
	if err != nil {
		return nil, grpcError(err)
	}
	return &fstorev1.PlanResponse{BaseVersion: p.BaseVersion, Changes: registry.ChangesToProto(p.Changes), Breaking: p.Breaking}, nil
}

func parseKind(s string, allowEmpty bool) (def.Kind, error) {
	if s == "" && allowEmpty {
		return "", nil
	}
	k, ok := def.ParseKind(s)
	if !ok {
		return "", fmt.Errorf("%w: unknown kind %q (want one of %s)", ErrBadRequest, s, kindList())
	}
	return k, nil
}

func kindList() string {
	s := ""
	for i, k := range def.Kinds {
		if i > 0 {
			s += ", "
		}
		s += string(k)
	}
	return s
}

// List returns the objects of one kind, or of every kind.
func (s *RegistryServer) List(ctx context.Context, req *fstorev1.ListRequest) (*fstorev1.ListResponse, error) {
	k, err := parseKind(req.GetKind(), true)
	if err != nil {
		return nil, grpcError(err)
	}
	snap, err := s.reg.At(req.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	return &fstorev1.ListResponse{Version: snap.Version, Objects: snap.Objects(k)}, nil
}

// Get returns one object.
func (s *RegistryServer) Get(ctx context.Context, req *fstorev1.GetRequest) (*fstorev1.GetResponse, error) {
	k, err := parseKind(req.GetKind(), false)
	if err != nil {
		return nil, grpcError(err)
	}
	snap, err := s.reg.At(req.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	o := snap.Object(k, req.GetName())
	if o == nil {
		return nil, grpcError(fmt.Errorf("%w: no %s %q in version %d%s", registry.ErrNotFound, k, req.GetName(), snap.Version, def.HintFor(req.GetName(), snap.Index.Names(k))))
	}
	return &fstorev1.GetResponse{Version: snap.Version, Object: o}, nil
}

// History lists versions, newest first.
func (s *RegistryServer) History(ctx context.Context, req *fstorev1.HistoryRequest) (*fstorev1.HistoryResponse, error) {
	h, err := s.reg.History(int(req.GetLimit()))
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &fstorev1.HistoryResponse{}
	for _, v := range h {
		resp.Versions = append(resp.Versions, registry.VersionToProto(v))
	}
	return resp, nil
}

// Watch streams versions newer than after_version (or than the latest, when
// it is 0) until the client goes away or the server stops.
func (s *RegistryServer) Watch(req *fstorev1.WatchRequest, stream grpc.ServerStreamingServer[fstorev1.WatchResponse]) error {
	after := req.GetAfterVersion()
	if after == 0 {
		after = s.reg.Latest().Version
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	stop := context.AfterFunc(s.stopping, cancel)
	defer stop()
	for {
		snap, err := s.reg.Wait(ctx, after)
		if err != nil && s.stopping.Err() != nil {
			return status.Error(codes.Unavailable, "server shutting down")
		}
		if err != nil {
			return grpcError(err)
		}
		// Send every version in between, not only the latest, so that a
		// watcher sees the whole history.
		for v := after + 1; v <= snap.Version; v++ {
			at, err := s.reg.At(v)
			if err != nil {
				return grpcError(err)
			}
			if err := stream.Send(&fstorev1.WatchResponse{Version: registry.VersionToProto(at.Info)}); err != nil {
				return err
			}
		}
		after = snap.Version
	}
}

// localClient adapts a RegistryServer to the client interface so that the
// CLI runs the same code against an open data directory as against a
// remote server.
type localClient struct{ s *RegistryServer }

// NewLocalRegistryClient returns a RegistryServiceClient that calls reg in
// process. Watch is not available in process; use Registry.Wait.
func NewLocalRegistryClient(reg *registry.Registry) fstorev1.RegistryServiceClient {
	return localClient{s: NewRegistryServer(reg)}
}

func (c localClient) Apply(ctx context.Context, in *fstorev1.ApplyRequest, _ ...grpc.CallOption) (*fstorev1.ApplyResponse, error) {
	return c.s.Apply(ctx, in)
}

func (c localClient) Plan(ctx context.Context, in *fstorev1.PlanRequest, _ ...grpc.CallOption) (*fstorev1.PlanResponse, error) {
	return c.s.Plan(ctx, in)
}

func (c localClient) List(ctx context.Context, in *fstorev1.ListRequest, _ ...grpc.CallOption) (*fstorev1.ListResponse, error) {
	return c.s.List(ctx, in)
}

func (c localClient) Get(ctx context.Context, in *fstorev1.GetRequest, _ ...grpc.CallOption) (*fstorev1.GetResponse, error) {
	return c.s.Get(ctx, in)
}

func (c localClient) History(ctx context.Context, in *fstorev1.HistoryRequest, _ ...grpc.CallOption) (*fstorev1.HistoryResponse, error) {
	return c.s.History(ctx, in)
}

func (c localClient) Watch(context.Context, *fstorev1.WatchRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[fstorev1.WatchResponse], error) {
	return nil, status.Error(codes.Unimplemented, "Watch needs a running server (fstore serve)")
}
