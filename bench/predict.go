package bench

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/fstore/fstore/compute/model"
	"github.com/fstore/fstore/featurestore"
)

// The predict scenario: POST /v1/predict for the model ServeModel, an MLP
// (ServeModelArch) over all 50 features of fv50, so each request fetches
// entities × 50 features and runs them through the network. Its shapes are
// written "predict:Nx50".

const (
	// ServeModel is the scenario's model, consuming feature service s50.
	ServeModel = "m50"
	// ServeModelArch is its architecture.
	ServeModelArch = "mlp:64,32"
	predictPrefix  = "predict:"
)

// ensureServeModel registers a version of ServeModel unless one exists,
// first rewriting and applying the definitions when the registry predates
// the model. Its weights are random (seeded): latency does not depend on
// what a model learnt, and the scenario has no label to learn from.
func ensureServeModel(st *featurestore.Store, defs string, seed uint64) error {
	if st.Registry().Latest().Index.Model(ServeModel) == nil {
		if err := os.WriteFile(defs, []byte(ServeDefinitions()), 0o644); err != nil {
			return err
		}
		if _, err := applyDefinitions(st, defs, "bench serve: model "+ServeModel); err != nil {
			return err
		}
	}
	if vs, err := st.ModelVersions(ServeModel); err != nil || len(vs) > 0 {
		return err
	}
	arch, err := model.ParseArch(ServeModelArch)
	if err != nil {
		return err
	}
	inputs := make([]string, 50)
	for i := range inputs {
		inputs[i] = "fv50__f" + strconv.Itoa(i+1)
	}
	m := randomModel(inputs, arch, seed)
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = st.RegisterModel(featurestore.ModelRegistration{Model: ServeModel, Artifact: b, Seed: int64(seed)})
	return err
}

// randomModel is a valid model with He-initialised random weights and the
// features' normalisation (uniform [0, 1): mean 0.5, scale 0.29).
func randomModel(inputs []string, arch model.Arch, seed uint64) *model.Model {
	rng := rand.New(rand.NewPCG(seed, 77))
	m := &model.Model{Arch: arch, Task: model.Binary, Inputs: inputs}
	for range inputs {
		m.Mean = append(m.Mean, 0.5)
		m.Scale = append(m.Scale, 0.29)
	}
	widths := append(append([]int{len(inputs)}, arch.Hidden...), 1)
	for l := 0; l+1 < len(widths); l++ {
		in, out := widths[l], widths[l+1]
		ly := model.Layer{In: in, Out: out, W: make([]float32, in*out), B: make([]float32, out)}
		for i := range ly.W {
			ly.W[i] = float32(rng.NormFloat64() * math.Sqrt(2/float64(in)))
		}
		m.Layers = append(m.Layers, ly)
	}
	return m
}

// isPredictShape reports whether shape is a predict shape, and returns the
// feature-request shape it fetches.
func isPredictShape(shape string) (string, bool) {
	return strings.CutPrefix(shape, predictPrefix)
}

// PredictBodies returns count /v1/predict bodies for ServeModel, each with
// n entity ids drawn uniformly from [0, entities), deterministically from
// seed.
func PredictBodies(n, entities, count int, seed uint64) [][]byte {
	entities = ServeData{Entities: entities}.entities()
	prefix := []byte(`{"model":"` + ServeModel + `","entities":{"entity_id":[`)
	return bodiesWithIDs(prefix, n, entities, count, rand.New(rand.NewPCG(seed+2, uint64(n))))
}
