package featurestore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fstore/fstore/compute/model"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/atomicfile"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// ModelsDir is the directory, inside the data directory, that holds
// registered model artifacts: models/<model>/v<version>.fsm. Registered
// files are never rewritten; the registry records each one's SHA-256 and
// LoadModel checks it.
const ModelsDir = "models"

// ModelRegistration is what RegisterModel records besides the artifact's
// own content (architecture, task, inputs, normalisation).
type ModelRegistration struct {
	// Model is the name of a model defined in the registry (a `models`
	// block naming its feature service). Required.
	Model string
	// Artifact is the encoded model (compute/model's artifact format).
	// Required.
	Artifact []byte
	// TrainingDataset is the training-set file the model was trained on.
	TrainingDataset string
	// TrainingLineage is that file's lineage metadata.
	TrainingLineage map[string]string
	// Metrics are the held-out metrics of training.
	Metrics map[string]float64
	// Seed is the training seed.
	Seed int64
	// FeatureBaseline is the training set's baseline profile (the bytes
	// of its <dataset>.profile.json) and PredictionBaseline the profile
	// of the model's predictions on the held-out rows; either may be
	// empty. They are stored beside the artifact (ModelBaselineSuffixes)
	// and their data-dir-relative paths recorded in the version.
	FeatureBaseline, PredictionBaseline []byte
	// CheckBaseline validates each non-empty baseline before anything is
	// written; skewcheck/profile.Validate decodes one fully. The profile
	// format lives above this package (skewcheck imports featurestore),
	// so the caller supplies the check; when nil, a baseline must still
	// be a JSON object whose "format" begins "fstore.profile/".
	CheckBaseline func(baseline []byte) error
}

// The files a version's baselines are stored in, beside its artifact:
// models/<model>/v<version><suffix>.
const (
	FeatureBaselineSuffix    = ".features.profile.json"
	PredictionBaselineSuffix = ".predictions.profile.json"
)

// RegisterModel validates a trained artifact against the registry and
// records it as the next immutable version of its model: the artifact is
// copied to ModelsDir with its SHA-256, and the version records the
// feature service's registry version and the training lineage. The model
// must be defined in the latest registry version and every input of the
// artifact must be a feature of the model's feature service, so that
// serving can fetch each input. Nothing is written when validation fails.
func (s *Store) RegisterModel(reg ModelRegistration) (*fstorev1.ModelVersion, error) {
	m, err := model.Unmarshal(reg.Artifact)
	if err != nil {
		return nil, err
	}
	snap := s.registry.Latest()
	md := snap.Index.Model(reg.Model)
	if md == nil {
		return nil, fmt.Errorf("%w: model %q is not defined%s: add `models { name: %q feature_service: \"...\" }` to the definitions and run fstore apply",
			ErrModel, reg.Model, def.HintFor(reg.Model, snap.Index.Names(def.KindModel)), reg.Model)
	}
	if err := checkModelInputs(snap, md, m.Inputs); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		name string
		data []byte
	}{{"feature baseline", reg.FeatureBaseline}, {"prediction baseline", reg.PredictionBaseline}} {
		if err := checkBaseline(b.data, reg.CheckBaseline); err != nil {
			return nil, fmt.Errorf("%w: model %q: %s: %w", ErrModel, reg.Model, b.name, err)
		}
	}
	svcMeta, _ := snap.Meta(def.KindFeatureService, md.FeatureService)
	sum := sha256.Sum256(reg.Artifact)
	return s.registry.AddModelVersion(reg.Model, func(v uint32) (*fstorev1.ModelVersion, error) {
		base := filepath.Join(ModelsDir, reg.Model, "v"+strconv.FormatUint(uint64(v), 10))
		rel := base + ".fsm"
		path := filepath.Join(s.dir, rel)
		var written []string
		write := func(rel string, b []byte) (string, error) {
			if len(b) == 0 {
				return "", nil
			}
			path := filepath.Join(s.dir, rel)
			if err := atomicfile.Write(path, b, 0o644); err != nil {
				return "", err
			}
			written = append(written, path)
			return filepath.ToSlash(rel), nil
		}
		var featRel, predRel string
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			_, err = write(rel, reg.Artifact)
		}
		if err == nil {
			featRel, err = write(base+FeatureBaselineSuffix, reg.FeatureBaseline)
		}
		if err == nil {
			predRel, err = write(base+PredictionBaselineSuffix, reg.PredictionBaseline)
		}
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
			return nil, fmt.Errorf("featurestore: cannot store model %s v%d: %w", reg.Model, v, err)
		}
		return &fstorev1.ModelVersion{
			FeatureBaselinePath:    featRel,
			PredictionBaselinePath: predRel,
			Model:                  reg.Model,
			Version:                v,
			ArtifactPath:           filepath.ToSlash(rel),
			ArtifactSha256:         hex.EncodeToString(sum[:]),
			Arch:                   m.Arch.String(),
			InputFeatures:          append([]string(nil), m.Inputs...),
			FeatureServiceVersion:  svcMeta.Version,
			TrainingDataset:        reg.TrainingDataset,
			TrainingLineage:        reg.TrainingLineage,
			Metrics:                reg.Metrics,
			Seed:                   reg.Seed,
			CreatedAt:              timestamppb.New(time.Now().UTC().Truncate(time.Microsecond)),
		}, nil
	})
}

// checkBaseline validates a baseline profile's bytes: with check when
// given, else the outline every profile format shares.
func checkBaseline(b []byte, check func([]byte) error) error {
	if len(b) == 0 {
		return nil
	}
	if check != nil {
		return check(b)
	}
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("not a profile (JSON object with a format): %w", err)
	}
	if !strings.HasPrefix(head.Format, "fstore.profile/") {
		return fmt.Errorf("format %q is not a profile format (fstore.profile/...)", head.Format)
	}
	return nil
}

// ModelBaselines reads a version's stored baseline profiles, as bytes
// (skewcheck/profile decodes them): nil for one the version does not
// have. Errors name the file.
func (s *Store) ModelBaselines(mv *fstorev1.ModelVersion) (features, predictions []byte, err error) {
	read := func(rel string) ([]byte, error) {
		if rel == "" {
			return nil, nil
		}
		path := filepath.Join(s.dir, filepath.FromSlash(rel))
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: model %s v%d: baseline: %w", ErrModel, mv.GetModel(), mv.GetVersion(), err)
		}
		return b, nil
	}
	if features, err = read(mv.GetFeatureBaselinePath()); err != nil {
		return nil, nil, err
	}
	if predictions, err = read(mv.GetPredictionBaselinePath()); err != nil {
		return nil, nil, err
	}
	return features, predictions, nil
}

// checkModelInputs reports an input that the model's feature service does
// not provide.
func checkModelInputs(snap *registry.Snapshot, md *def.Model, inputs []string) error {
	refs, err := snap.Index.ServiceFeatures(md.FeatureService)
	if err != nil {
		return fmt.Errorf("%w: model %q: %w", ErrModel, md.Name, err)
	}
	have := make(map[string]bool, len(refs))
	cols := make([]string, len(refs))
	for i, r := range refs {
		have[r.Column()] = true
		cols[i] = r.Column()
	}
	for _, in := range inputs {
		if !have[in] {
			return fmt.Errorf("%w: model %q: input %q is not a feature of its feature service %q%s",
				ErrModel, md.Name, in, md.FeatureService, def.HintFor(in, cols))
		}
	}
	return nil
}

// ModelVersion returns version v of a model (0: the latest).
func (s *Store) ModelVersion(name string, v uint32) (*fstorev1.ModelVersion, error) {
	mv, err := s.registry.ModelVersion(name, v)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrModelNotFound, err)
	}
	return mv, err
}

// ModelVersions returns every version of a model, oldest first.
func (s *Store) ModelVersions(name string) ([]*fstorev1.ModelVersion, error) {
	return s.registry.ModelVersions(name)
}

// LoadModel reads and decodes a registered version's artifact, checking it
// is the file that was registered.
func (s *Store) LoadModel(mv *fstorev1.ModelVersion) (*model.Model, error) {
	path := filepath.Join(s.dir, filepath.FromSlash(mv.GetArtifactPath()))
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: model %s v%d: %w", ErrModel, mv.GetModel(), mv.GetVersion(), err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != mv.GetArtifactSha256() {
		return nil, fmt.Errorf("%w: model %s v%d: artifact %s has SHA-256 %s, registered %s (the file changed after registration)",
			ErrModel, mv.GetModel(), mv.GetVersion(), path, got, mv.GetArtifactSha256())
	}
	m, err := model.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("model %s v%d (%s): %w", mv.GetModel(), mv.GetVersion(), path, err)
	}
	return m, nil
}
