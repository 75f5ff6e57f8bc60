package profile

import (
	"fmt"
	"path/filepath"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// PredictionFeature is the name of the one feature of a prediction
// baseline (Predictions).
const PredictionFeature = "prediction"

// Predictions returns the encoded profile of a model's predictions (one
// DOUBLE feature, PredictionFeature; for a binary classifier the
// predicted probability): the prediction baseline of a model version.
// dataset names the data set they were made on (its base name is kept).
func Predictions(dataset string, predictions []float32) ([]byte, error) {
	p := New([]def.Field{{Name: PredictionFeature, Type: def.Double}})
	col := &compute.Column{}
	col.Reset(def.Double, len(predictions))
	for i, x := range predictions {
		col.F64[i] = float64(x)
	}
	p.Add([]*compute.Column{col}, len(predictions))
	return p.Encode(dataset, int64(len(predictions)))
}

// Validate decodes b as a profile and returns Decode's error: the
// featurestore.ModelRegistration.CheckBaseline of callers that register
// baselines.
func Validate(b []byte) error {
	_, err := Decode(b)
	return err
}

// DatasetProfilePath is where backfill writes the baseline profile of a
// training set.
func DatasetProfilePath(dataset string) string { return dataset + ".profile.json" }

// ModelBaselines reads and decodes a model version's stored baselines
// (featurestore.Store.ModelBaselines): nil for one the version does not
// have. Errors name the file and field.
func ModelBaselines(st *featurestore.Store, mv *fstorev1.ModelVersion) (features, predictions *Profile, err error) {
	fb, pb, err := st.ModelBaselines(mv)
	if err != nil {
		return nil, nil, err
	}
	decode := func(b []byte, rel string) (*Profile, error) {
		if b == nil {
			return nil, nil
		}
		p, err := Decode(b)
		if err != nil {
			if fe, ok := err.(*FieldError); ok {
				fe.File = filepath.FromSlash(rel)
			}
			return nil, fmt.Errorf("model %s v%d: %w", mv.GetModel(), mv.GetVersion(), err)
		}
		return p, nil
	}
	if features, err = decode(fb, mv.GetFeatureBaselinePath()); err != nil {
		return nil, nil, err
	}
	if predictions, err = decode(pb, mv.GetPredictionBaselinePath()); err != nil {
		return nil, nil, err
	}
	return features, predictions, nil
}
