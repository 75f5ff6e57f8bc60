package featurestore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fstore/fstore/compute/model"
	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore/registry"
)

// TestRegisterModelBaselines registers versions with and without
// baselines and checks they are stored beside the artifact, their paths
// recorded and read back by ModelBaselines; a baseline refused by the
// check or not a profile at all fails registration before anything is
// written.
func TestRegisterModelBaselines(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := t.TempDir()
	if _, err := rides.Write(data, rides.Config{Drivers: 5, Riders: 5, Days: 2, SpineRows: 5}); err != nil {
		t.Fatal(err)
	}
	p, _, err := registry.LoadFiles([]string{data})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Registry().Apply(d, registry.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	m := &model.Model{Task: model.Binary, Inputs: []string{"driver_hourly__conv_rate"}, Mean: []float32{0}, Scale: []float32{1},
		Layers: []model.Layer{{In: 1, Out: 1, W: []float32{0.5}, B: []float32{0}}}}
	art, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	feat := []byte(`{"format":"fstore.profile/v2","dataset":"train.parquet","rows":0,"features":[]}` + "\n")
	pred := []byte(`{"format":"fstore.profile/v1","dataset":"train.parquet","rows":0,"features":[]}` + "\n")
	checked := 0
	mv, err := s.RegisterModel(ModelRegistration{Model: "completion", Artifact: art, FeatureBaseline: feat, PredictionBaseline: pred,
		CheckBaseline: func([]byte) error { checked++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if checked != 2 || mv.GetFeatureBaselinePath() != "models/completion/v1.features.profile.json" || mv.GetPredictionBaselinePath() != "models/completion/v1.predictions.profile.json" {
		t.Fatalf("checked %d; paths %q %q", checked, mv.GetFeatureBaselinePath(), mv.GetPredictionBaselinePath())
	}
	mv, err = s.ModelVersion("completion", 1) // as recorded
	if err != nil {
		t.Fatal(err)
	}
	f, pr, err := s.ModelBaselines(mv)
	if err != nil || !bytes.Equal(f, feat) || !bytes.Equal(pr, pred) {
		t.Fatalf("baselines read back: %v\n%s\n%s", err, f, pr)
	}

	// Without baselines: none recorded.
	mv2, err := s.RegisterModel(ModelRegistration{Model: "completion", Artifact: art})
	if err != nil {
		t.Fatal(err)
	}
	if f, pr, err := s.ModelBaselines(mv2); err != nil || f != nil || pr != nil || mv2.GetFeatureBaselinePath() != "" {
		t.Fatalf("no baselines: %v %q %q", err, f, pr)
	}

	for _, tc := range []struct {
		reg  ModelRegistration
		want string
	}{
		{ModelRegistration{Model: "completion", Artifact: art, PredictionBaseline: []byte(`{"format":"csv"}`)}, `prediction baseline: format "csv" is not a profile format`},
		{ModelRegistration{Model: "completion", Artifact: art, FeatureBaseline: []byte(`[1,2]`)}, `feature baseline: not a profile`},
		{ModelRegistration{Model: "completion", Artifact: art, FeatureBaseline: feat, CheckBaseline: func([]byte) error { return errors.New("features[0].count: -1 is negative") }},
			`model "completion": feature baseline: features[0].count: -1 is negative`},
	} {
		_, err := s.RegisterModel(tc.reg)
		if !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	if vs, _ := s.ModelVersions("completion"); len(vs) != 2 {
		t.Fatalf("%d versions after refused registrations", len(vs))
	}
	entries, _ := os.ReadDir(filepath.Join(dir, ModelsDir, "completion"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "v1.features.profile.json v1.fsm v1.predictions.profile.json v2.fsm" {
		t.Fatalf("files: %v", names)
	}
}
