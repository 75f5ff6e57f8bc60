package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fstore/fstore/skewcheck/profile"
)

// TestTrainStoresBaselines trains on a backfill output and checks the
// version stores both baselines: the training set's profile, byte for
// byte, and a profile of the held-out predictions (probabilities, as
// many as the held-out rows); describe prints their paths; a bad
// baseline is refused, naming the file and field, and no version is
// added.
func TestTrainStoresBaselines(t *testing.T) {
	tmp := t.TempDir()
	dataDir := filepath.Join(tmp, "data")
	data := "--data-dir=" + dataDir
	defs := writeExample(t, tmp, nil)
	mustRun(t, data, "apply", "-f", defs)
	train := filepath.Join(tmp, "train.parquet")
	mustRun(t, data, "backfill", "--service", "trip_completion", "--spine", filepath.Join(tmp, "data", "spine.parquet"), "--out", train)
	mustRun(t, data, "train", "--dataset", train, "--label", "completed", "--model", "completion", "--epochs", "2", "--holdout", "0.25")

	r := mustRun(t, data, "models", "describe", "completion:1")
	if !strings.Contains(r.stdout, "feature baseline: models/completion/v1.features.profile.json\n") ||
		!strings.Contains(r.stdout, "prediction baseline: models/completion/v1.predictions.profile.json\n") {
		t.Fatalf("describe:\n%s", r.stdout)
	}
	want, err := os.ReadFile(train + ".profile.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dataDir, "models", "completion", "v1.features.profile.json"))
	if err != nil || string(got) != string(want) {
		t.Fatalf("feature baseline is not the training set's profile (%v)", err)
	}
	preds, err := profile.Read(filepath.Join(dataDir, "models", "completion", "v1.predictions.profile.json"))
	if err != nil {
		t.Fatal(err)
	}
	feats, err := profile.Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	f := preds.Feature(profile.PredictionFeature)
	if f == nil || f.Type != "DOUBLE" || f.Nulls != 0 || f.Count != preds.Rows || f.Count < 1 || *f.Min < 0 || *f.Max > 1 || f.DDSketch() == nil {
		t.Fatalf("prediction baseline: %+v", f)
	}
	// A quarter of the labelled rows are held out.
	if rows := feats.Rows; f.Count < rows/4-1 || f.Count > rows/4+1 {
		t.Fatalf("%d predictions for %d training rows held out at 0.25", f.Count, rows)
	}

	// Bad baselines: refused by name, and nothing registered.
	bad := filepath.Join(tmp, "bad.profile.json")
	os.WriteFile(bad, []byte(`{"format":"fstore.profile/v2","rows":1,"features":[{"name":"prediction","type":"DOUBLE","count":-4,"nulls":0}]}`), 0o644)
	artifact := filepath.Join(dataDir, "models", "completion", "v1.fsm")
	r = fstore(t, data, "models", "register", "--model", "completion", "--artifact", artifact, "--prediction-baseline", bad)
	if r.code == 0 || !strings.Contains(r.stderr, bad+`: features[0] "prediction".count: -4 is negative`) {
		t.Fatalf("bad baseline: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "models", "completion", "v2.fsm")); !os.IsNotExist(err) {
		t.Fatalf("a version was stored: %v", err)
	}
	r = mustRun(t, data, "models", "register", "--model", "completion", "--artifact", artifact, "--dataset", train)
	if r.stdout != "registered completion v2 (logreg, 16 inputs)\n" {
		t.Fatalf("register: %q", r.stdout)
	}
	if got, _ := os.ReadFile(filepath.Join(dataDir, "models", "completion", "v2.features.profile.json")); string(got) != string(want) {
		t.Fatal("register --dataset did not store the training set's profile")
	}
}
