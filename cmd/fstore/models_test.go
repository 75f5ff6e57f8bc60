package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainAndModels trains on a backfill output, registers versions, lists
// and describes them, and checks that bad input is refused by name.
func TestTrainAndModels(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	defs := writeExample(t, tmp, nil)
	mustRun(t, data, "apply", "-f", defs)
	train := filepath.Join(tmp, "train.parquet")
	mustRun(t, data, "backfill", "--service", "trip_completion", "--spine", filepath.Join(tmp, "data", "spine.parquet"), "--out", train)

	r := mustRun(t, data, "train", "--dataset", train, "--label", "completed", "--model", "completion", "--arch", "mlp:8", "--epochs", "3", "--seed", "5")
	if !strings.HasPrefix(r.stdout, "trained completion v1 (mlp:8, binary, 16 inputs) on ") || !strings.Contains(r.stdout, "auc ") || !strings.Contains(r.stdout, "log_loss ") {
		t.Fatalf("train output: %q", r.stdout)
	}
	r = mustRun(t, data, "-o", "json", "train", "--dataset", train, "--label", "completed", "--model", "completion", "--features", "driver_hourly:conv_rate,driver_hourly__rating", "--epochs", "2")
	var mv struct {
		Version         int               `json:"version"`
		Arch            string            `json:"arch"`
		InputFeatures   []string          `json:"input_features"`
		ArtifactPath    string            `json:"artifact_path"`
		ArtifactSHA     string            `json:"artifact_sha256"`
		TrainingLineage map[string]string `json:"training_lineage"`
		Metrics         map[string]float64
		Seed            string `json:"seed"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &mv); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if mv.Version != 2 || mv.Arch != "logreg" || strings.Join(mv.InputFeatures, ",") != "driver_hourly__conv_rate,driver_hourly__rating" ||
		mv.ArtifactPath != "models/completion/v2.fsm" || len(mv.ArtifactSHA) != 64 || !strings.Contains(mv.TrainingLineage["fstore.lineage"], `"feature_service":"trip_completion"`) ||
		mv.Metrics["auc"] <= 0 || mv.Seed != "1" {
		t.Fatalf("version 2: %+v", mv)
	}
	artifact := filepath.Join(tmp, "data", mv.ArtifactPath)
	if _, err := os.Stat(artifact); err != nil {
		t.Fatal(err)
	}

	r = mustRun(t, data, "models", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "completion 1 mlp:8 16") || !strings.HasPrefix(strings.Join(strings.Fields(lines[2]), " "), "completion 2 logreg 2") {
		t.Fatalf("models list:\n%s", r.stdout)
	}
	r = mustRun(t, data, "models", "describe", "completion")
	if !strings.Contains(r.stdout, "version:          2") || !strings.Contains(r.stdout, "  1  driver_hourly__rating") {
		t.Fatalf("describe:\n%s", r.stdout)
	}
	r = mustRun(t, data, "models", "describe", "completion:1")
	if !strings.Contains(r.stdout, "arch:             mlp:8") || !strings.Contains(r.stdout, "  15  trip_request__conv_x_surge") {
		t.Fatalf("describe completion:1:\n%s", r.stdout)
	}
	r = mustRun(t, data, "models", "register", "--model", "completion", "--artifact", artifact)
	if r.stdout != "registered completion v3 (logreg, 2 inputs)\n" {
		t.Fatalf("register: %q", r.stdout)
	}

	bad := filepath.Join(tmp, "bad.fsm")
	b, _ := os.ReadFile(artifact)
	if err := os.WriteFile(bad, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--dataset", train, "--model", "completion"}, 2, "want --dataset FILE, --label COLUMN and --model NAME"},
		{[]string{"train", "--dataset", train, "--label", "completed", "--model", "completion", "--arch", "mlp:0"}, 2, `--arch: model: arch "mlp:0": hidden width must be`},
		{[]string{"train", "--dataset", train, "--label", "completed", "--model", "completon"}, 1, `model "completon" is not defined (did you mean "completion"?)`},
		{[]string{"train", "--dataset", train, "--label", "nope", "--model", "completion"}, 1, `"nope"`},
		{[]string{"train", "--dataset", filepath.Join(tmp, "missing.parquet"), "--label", "completed", "--model", "completion"}, 1, "missing.parquet"},
		{[]string{"train", "--dataset", train, "--label", "completed", "--model", "completion", "--features", "rider_profile__segment"}, 1, `"rider_profile__segment"`},
		{[]string{"models", "register", "--model", "completion", "--artifact", bad}, 1, "model artifact"},
		{[]string{"models", "describe", "completion:0"}, 2, "want MODEL or MODEL:VERSION"},
		{[]string{"models", "describe", "completion:9"}, 1, `model "completion" has no version 9`},
		{[]string{"models", "list", "churn"}, 1, `unknown model "churn"`},
	} {
		r := fstore(t, append([]string{data}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("fstore %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
}
