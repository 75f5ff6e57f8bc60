package serve

import (
	"context"
	"sort"

	"google.golang.org/grpc"

	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
	"github.com/fstore/fstore/skewcheck/profile"
)

// ModelServer implements fstore.v1.ModelService over a data directory.
// When registered inside a running server, onRegister tells the model
// catalog to load the new version.
type ModelServer struct {
	fstorev1.UnimplementedModelServiceServer
	st         *featurestore.Store
	onRegister func(*fstorev1.ModelVersion)
}

// NewModelServer serves the model versions of st.
func NewModelServer(st *featurestore.Store) *ModelServer { return &ModelServer{st: st} }

// RegisterModelVersion validates and stores the next version of a model.
func (s *ModelServer) RegisterModelVersion(_ context.Context, req *fstorev1.RegisterModelVersionRequest) (*fstorev1.RegisterModelVersionResponse, error) {
	if req.GetModel() == "" {
		return nil, grpcError(badRequest("model: want a model name"))
	}
	mv, err := s.st.RegisterModel(featurestore.ModelRegistration{
		Model:           req.GetModel(),
		Artifact:        req.GetArtifact(),
		TrainingDataset: req.GetTrainingDataset(),
		TrainingLineage: req.GetTrainingLineage(),
		Metrics:         req.GetMetrics(),
		Seed:            req.GetSeed(),

		FeatureBaseline:    req.GetFeatureBaseline(),
		PredictionBaseline: req.GetPredictionBaseline(),
		CheckBaseline:      profile.Validate,
	})
	if err != nil {
		return nil, grpcError(err)
	}
	if s.onRegister != nil {
		s.onRegister(mv)
	}
	return &fstorev1.RegisterModelVersionResponse{Version: mv}, nil
}

// ListModelVersions lists one model's versions, or every model's.
func (s *ModelServer) ListModelVersions(_ context.Context, req *fstorev1.ListModelVersionsRequest) (*fstorev1.ListModelVersionsResponse, error) {
	names := []string{req.GetModel()}
	if req.GetModel() == "" {
		var err error
		if names, err = s.st.Registry().ModelsWithVersions(); err != nil {
			return nil, grpcError(err)
		}
	} else if err := s.known(req.GetModel()); err != nil {
		return nil, grpcError(err)
	}
	resp := &fstorev1.ListModelVersionsResponse{}
	for _, n := range names {
		vs, err := s.st.ModelVersions(n)
		if err != nil {
			return nil, grpcError(err)
		}
		resp.Versions = append(resp.Versions, vs...)
	}
	return resp, nil
}

// GetModelVersion returns one version; version 0 is the latest.
func (s *ModelServer) GetModelVersion(_ context.Context, req *fstorev1.GetModelVersionRequest) (*fstorev1.GetModelVersionResponse, error) {
	if err := s.known(req.GetModel()); err != nil {
		return nil, grpcError(err)
	}
	mv, err := s.st.ModelVersion(req.GetModel(), req.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	return &fstorev1.GetModelVersionResponse{Version: mv}, nil
}

// known reports a model that is neither defined nor registered, with a
// suggestion.
func (s *ModelServer) known(name string) error {
	if name == "" {
		return badRequest("model: want a model name")
	}
	ix := s.st.Registry().Latest().Index
	if ix.Model(name) != nil {
		return nil
	}
	withVersions, err := s.st.Registry().ModelsWithVersions()
	if err != nil {
		return err
	}
	if i := sort.SearchStrings(withVersions, name); i < len(withVersions) && withVersions[i] == name {
		return nil
	}
	return &notFoundError{what: "model", name: name, known: append(ix.Names(def.KindModel), withVersions...)}
}

// NewLocalModelClient returns a ModelServiceClient that calls st in
// process.
func NewLocalModelClient(st *featurestore.Store) fstorev1.ModelServiceClient {
	return localModelClient{s: NewModelServer(st)}
}

type localModelClient struct{ s *ModelServer }

func (c localModelClient) RegisterModelVersion(ctx context.Context, in *fstorev1.RegisterModelVersionRequest, _ ...grpc.CallOption) (*fstorev1.RegisterModelVersionResponse, error) {
	return c.s.RegisterModelVersion(ctx, in)
}

func (c localModelClient) ListModelVersions(ctx context.Context, in *fstorev1.ListModelVersionsRequest, _ ...grpc.CallOption) (*fstorev1.ListModelVersionsResponse, error) {
	return c.s.ListModelVersions(ctx, in)
}

func (c localModelClient) GetModelVersion(ctx context.Context, in *fstorev1.GetModelVersionRequest, _ ...grpc.CallOption) (*fstorev1.GetModelVersionResponse, error) {
	return c.s.GetModelVersion(ctx, in)
}
