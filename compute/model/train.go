package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TrainConfig configures Train. Zero fields take the documented defaults.
type TrainConfig struct {
	// Arch is the network; the zero Arch is logistic/linear regression.
	Arch Arch
	// Task is what to learn. 0 infers it: Binary when every label is 0 or
	// 1, Regression otherwise.
	Task Task
	// Epochs is the number of passes over the training split. Default 20,
	// at most 100000.
	Epochs int
	// BatchSize is the mini-batch size. Default 256, at most 65536. A
	// training split smaller than BatchSize is one batch.
	BatchSize int
	// LearningRate is Adam's step size. Default 0.01.
	LearningRate float64
	// Seed drives the holdout split, the initial weights and the per-epoch
	// shuffles: the same data, config and seed give a bit-identical model.
	Seed int64
	// Holdout is the fraction of rows held out for Metrics, in (0, 0.9].
	// Default 0.2. At least one row is held out and one trained on.
	Holdout float64
	// Progress, when set, is called after every epoch with the mean
	// training loss over that epoch (binary cross-entropy, or mean squared
	// error in label units).
	Progress func(epoch, epochs int, trainLoss float64)
	// HoldoutPredictions, when set, is called once training is done with
	// the held-out rows (indexes into the dataset, ascending) and the
	// model's predictions on them, row for row (for Binary, the predicted
	// probability of 1; for Regression, the value): the predictions
	// Metrics scored, for a baseline of the model's outputs. The slices
	// are the callee's to keep.
	HoldoutPredictions func(rows []int, predictions []float32)
}

// EnsureDefaults fills in the zero fields of c.
func (c *TrainConfig) EnsureDefaults() {
	if c.Epochs == 0 {
		c.Epochs = 20
	}
	if c.BatchSize == 0 {
		c.BatchSize = 256
	}
	if c.LearningRate == 0 {
		c.LearningRate = 0.01
	}
	if c.Holdout == 0 {
		c.Holdout = 0.2
	}
}

// Validate checks c after EnsureDefaults. Errors match ErrInput.
func (c *TrainConfig) Validate() error {
	if err := c.Arch.validate(); err != nil {
		return err
	}
	switch {
	case c.Task != 0 && c.Task != Binary && c.Task != Regression:
		return inputErrorf("train: unknown task %d", uint8(c.Task))
	case c.Epochs < 1 || c.Epochs > 100000:
		return inputErrorf("train: epochs %d, want 1..100000", c.Epochs)
	case c.BatchSize < 1 || c.BatchSize > 1<<16:
		return inputErrorf("train: batch size %d, want 1..65536", c.BatchSize)
	case !(c.LearningRate > 0 && c.LearningRate <= 10):
		return inputErrorf("train: learning rate %v, want > 0 and <= 10", c.LearningRate)
	case !(c.Holdout > 0 && c.Holdout <= 0.9):
		return inputErrorf("train: holdout %v, want a fraction in (0, 0.9]", c.Holdout)
	}
	return nil
}

// Metrics are a model's scores on the held-out split. Binary: "auc"
// (omitted when the holdout has only one class), "log_loss" (probabilities
// clipped to [1e-7, 1-1e-7]) and "accuracy" (at 0.5); Regression: "rmse"
// and "mae". Both: "train_rows" and "holdout_rows".
type Metrics map[string]float64

// Train fits a model to ds: the normalisation over the training split,
// then the network with Adam on mini-batches through a gorgonia autodiff
// graph, then Metrics from the Engine's predictions on the held-out split.
// It checks ctx between batches and returns ctx's error, wrapped, when it
// is done. Other errors match ErrInput.
func Train(ctx context.Context, ds *Dataset, cfg TrainConfig) (*Model, Metrics, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if err := checkDataset(ds); err != nil {
		return nil, nil, err
	}
	task := cfg.Task
	if task == 0 {
		task = inferTask(ds.Y)
	}
	if task == Binary {
		for i, y := range ds.Y {
			if y != 0 && y != 1 {
				return nil, nil, inputErrorf("train: binary task but row %d has label %v (want 0 or 1)", i, y)
			}
		}
	}
	in := len(ds.Features)
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed_f5_70_4e))

	// The holdout split: a seeded permutation, the first nHold rows held
	// out, each side then in ascending row order.
	perm := rng.Perm(ds.Rows)
	nHold := min(max(int(math.Round(float64(ds.Rows)*cfg.Holdout)), 1), ds.Rows-1)
	hold, train := perm[:nHold], perm[nHold:]
	slices.Sort(hold)
	slices.Sort(train)

	m := &Model{
		Arch:   Arch{Hidden: append([]int(nil), cfg.Arch.Hidden...)},
		Task:   task,
		Inputs: append([]string(nil), ds.Features...),
	}
	if len(m.Arch.Hidden) == 0 {
		m.Arch.Hidden = nil
	}
	m.Mean, m.Scale = normalisation(ds, train)

	// The normalised training matrix and labels; regression labels are
	// standardised too, and the scaling folded into the last layer after.
	nt := len(train)
	z := make([]float32, nt*in)
	yt := make([]float32, nt)
	for r, row := range train {
		normalize(z[r*in:(r+1)*in], ds.X[row*in:(row+1)*in], m.Mean, m.Scale)
		yt[r] = ds.Y[row]
	}
	yMean, yScale := 0.0, 1.0
	if task == Regression {
		yMean, yScale = meanStd(yt)
		if yScale == 0 {
			yScale = 1
		}
		for i, y := range yt {
			yt[i] = float32((float64(y) - yMean) / yScale)
		}
	}

	m.Layers = initLayers(in, m.Arch, rng)
	bs := min(cfg.BatchSize, nt)
	net, err := buildNet(m.Layers, task, bs, true)
	if err != nil {
		return nil, nil, err
	}
	defer net.vm.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(cfg.LearningRate))
	grads := G.NodesToValueGrads(net.learnables)

	order := make([]int, nt)
	for i := range order {
		order[i] = i
	}
	xb, yb, mb := net.xb, net.yb, net.mb
	for epoch := range cfg.Epochs {
		rng.Shuffle(nt, func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum float64
		for start := 0; start < nt; start += bs {
			if err := ctx.Err(); err != nil {
				return nil, nil, fmt.Errorf("model: training stopped in epoch %d: %w", epoch+1, err)
			}
			nb := min(bs, nt-start)
			// A last partial batch is padded: its padding rows have zero
			// input, label and mask, and the mask's 1/nb weights make the
			// cost the mean over the real rows, as for a full batch.
			for i := range bs {
				if i < nb {
					r := order[start+i]
					copy(xb[i*in:(i+1)*in], z[r*in:(r+1)*in])
					yb[i] = yt[r]
					mb[i] = 1 / float32(nb)
				} else {
					clear(xb[i*in : (i+1)*in])
					yb[i], mb[i] = 0, 0
				}
			}
			if err := net.vm.RunAll(); err != nil {
				return nil, nil, fmt.Errorf("model: training graph: %w", err)
			}
			lossSum += float64(net.cost.Value().Data().(float32)) * float64(nb)
			if err := solver.Step(grads); err != nil {
				return nil, nil, fmt.Errorf("model: training step: %w", err)
			}
			net.vm.Reset()
		}
		if cfg.Progress != nil {
			loss := lossSum / float64(nt)
			if task == Regression {
				loss *= yScale * yScale
			}
			cfg.Progress(epoch+1, cfg.Epochs, loss)
		}
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		copy(l.W, net.weights[i].Value().Data().([]float32))
		copy(l.B, net.biases[i].Value().Data().([]float32))
	}
	if task == Regression {
		last := &m.Layers[len(m.Layers)-1]
		for i := range last.W {
			last.W[i] = float32(float64(last.W[i]) * yScale)
		}
		last.B[0] = float32(float64(last.B[0])*yScale + yMean)
	}
	if msg := m.check(); msg != "" {
		return nil, nil, inputErrorf("train: the model diverged (%s); try a smaller learning rate", msg)
	}
	met, pred, err := evaluate(m, ds, hold)
	if err != nil {
		return nil, nil, err
	}
	if cfg.HoldoutPredictions != nil {
		cfg.HoldoutPredictions(hold, pred)
	}
	met["train_rows"] = float64(nt)
	return m, met, nil
}

func checkDataset(ds *Dataset) error {
	switch {
	case ds == nil:
		return inputErrorf("train: nil dataset")
	case len(ds.Features) < 1 || len(ds.Features) > MaxInputs:
		return inputErrorf("train: %d features, want 1..%d", len(ds.Features), MaxInputs)
	case ds.Rows < 2:
		return inputErrorf("train: %d rows with a label, need at least 2 (one to train on, one to hold out)", ds.Rows)
	case len(ds.X) != ds.Rows*len(ds.Features):
		return inputErrorf("train: X has %d values, want %d rows × %d features", len(ds.X), ds.Rows, len(ds.Features))
	case len(ds.Y) != ds.Rows:
		return inputErrorf("train: Y has %d labels, want %d", len(ds.Y), ds.Rows)
	}
	probe := Model{Task: Binary, Inputs: ds.Features, Mean: make([]float32, len(ds.Features)), Scale: make([]float32, len(ds.Features))}
	for i := range probe.Scale {
		probe.Scale[i] = 1
	}
	probe.Layers = []Layer{{In: len(ds.Features), Out: 1, W: make([]float32, len(ds.Features)), B: make([]float32, 1)}}
	if msg := probe.check(); msg != "" {
		return inputErrorf("train: feature names: %s", msg)
	}
	for i, y := range ds.Y {
		if !finite32(y) {
			return inputErrorf("train: row %d has label %v", i, y)
		}
	}
	for i, x := range ds.X {
		if math.IsInf(float64(x), 0) {
			return inputErrorf("train: row %d feature %q is %v", i/len(ds.Features), ds.Features[i%len(ds.Features)], x)
		}
	}
	return nil
}

func inferTask(y []float32) Task {
	for _, v := range y {
		if v != 0 && v != 1 {
			return Regression
		}
	}
	return Binary
}

// normalisation returns each column's mean and standard deviation over the
// given rows, skipping missing values, computed in float64. A column with
// no values has mean 0; one whose deviation is 0 (or not finite, or
// rounds to 0 in float32) has scale 1.
func normalisation(ds *Dataset, rows []int) (mean, scale []float32) {
	in := len(ds.Features)
	mean = make([]float32, in)
	scale = make([]float32, in)
	sum := make([]float64, in)
	cnt := make([]int, in)
	for _, r := range rows {
		for j, v := range ds.X[r*in : (r+1)*in] {
			if v == v {
				sum[j] += float64(v)
				cnt[j]++
			}
		}
	}
	mu := make([]float64, in)
	for j := range mu {
		if cnt[j] > 0 {
			mu[j] = sum[j] / float64(cnt[j])
		}
		mean[j] = float32(mu[j])
	}
	ss := make([]float64, in)
	for _, r := range rows {
		for j, v := range ds.X[r*in : (r+1)*in] {
			if v == v {
				d := float64(v) - mu[j]
				ss[j] += d * d
			}
		}
	}
	for j := range scale {
		scale[j] = 1
		if cnt[j] > 0 {
			sd := float32(math.Sqrt(ss[j] / float64(cnt[j])))
			if sd > 0 && finite32(sd) {
				scale[j] = sd
			}
		}
	}
	return mean, scale
}

func meanStd(v []float32) (float64, float64) {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	mu := s / float64(len(v))
	var ss float64
	for _, x := range v {
		d := float64(x) - mu
		ss += d * d
	}
	return mu, math.Sqrt(ss / float64(len(v)))
}

// initLayers draws the initial weights: He (normal, σ = √(2/In)) for the
// ReLU hidden layers, Xavier/Glorot (normal, σ = √(2/(In+Out))) for the
// output layer; biases start at 0.
func initLayers(in int, a Arch, rng *rand.Rand) []Layer {
	widths := append(append([]int(nil), a.Hidden...), 1)
	layers := make([]Layer, len(widths))
	prev := in
	for i, out := range widths {
		sd := math.Sqrt(2 / float64(prev))
		if i == len(widths)-1 {
			sd = math.Sqrt(2 / float64(prev+out))
		}
		l := Layer{In: prev, Out: out, W: make([]float32, prev*out), B: make([]float32, out)}
		for k := range l.W {
			l.W[k] = float32(rng.NormFloat64() * sd)
		}
		layers[i] = l
		prev = out
	}
	return layers
}

// net is the gorgonia expression graph of a network for batches of a fixed
// size, and the tape machine that runs it.
type net struct {
	g               *G.ExprGraph
	x, y, mask      *G.Node   // inputs: bs×In, bs×1, bs×1
	xb, yb, mb      []float32 // their backing arrays
	out             *G.Node   // bs×1: the probability (Binary) or value
	cost            *G.Node   // scalar, training graphs only
	weights, biases []*G.Node
	learnables      G.Nodes
	vm              G.VM
}

// buildNet builds the graph for batches of bs rows over copies of layers'
// weights. A training graph adds the cost and its gradients:
//
//	Binary:     Σ mask ⊙ (softplus(z) − y ⊙ z)   (sigmoid + binary cross-entropy on the logit z)
//	Regression: Σ mask ⊙ (z − y)²
//
// where mask weights each real row 1/rows in the batch and each padding
// row 0, making the cost the batch mean. The forward graph's output
// applies the sigmoid (Binary) to z.
func buildNet(layers []Layer, task Task, bs int, training bool) (*net, error) {
	g := G.NewGraph()
	in := layers[0].In
	n := &net{g: g}
	mat := func(name string, rows, cols int, backing []float32) *G.Node {
		t := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(backing))
		return G.NewMatrix(g, tensor.Float32, G.WithShape(rows, cols), G.WithName(name), G.WithValue(t))
	}
	n.xb = make([]float32, bs*in)
	n.x = mat("x", bs, in, n.xb)
	h := n.x
	var err error
	for i, l := range layers {
		w := mat(fmt.Sprintf("w%d", i+1), l.In, l.Out, append([]float32(nil), l.W...))
		b := mat(fmt.Sprintf("b%d", i+1), 1, l.Out, append([]float32(nil), l.B...))
		n.weights = append(n.weights, w)
		n.biases = append(n.biases, b)
		n.learnables = append(n.learnables, w, b)
		if h, err = G.Mul(h, w); err != nil {
			return nil, fmt.Errorf("model: graph layer %d: %w", i+1, err)
		}
		if h, err = G.BroadcastAdd(h, b, nil, []byte{0}); err != nil {
			return nil, fmt.Errorf("model: graph layer %d: %w", i+1, err)
		}
		if i < len(layers)-1 {
			if h, err = G.Rectify(h); err != nil {
				return nil, fmt.Errorf("model: graph layer %d: %w", i+1, err)
			}
		}
	}
	logit := h
	if !training {
		n.out = logit
		if task == Binary {
			if n.out, err = G.Sigmoid(logit); err != nil {
				return nil, fmt.Errorf("model: graph output: %w", err)
			}
		}
		n.vm = G.NewTapeMachine(g)
		return n, nil
	}
	n.yb, n.mb = make([]float32, bs), make([]float32, bs)
	n.y = mat("y", bs, 1, n.yb)
	n.mask = mat("mask", bs, 1, n.mb)
	var rowLoss *G.Node
	if task == Binary {
		sp, err := G.Softplus(logit)
		if err != nil {
			return nil, fmt.Errorf("model: graph loss: %w", err)
		}
		yz, err := G.HadamardProd(n.y, logit)
		if err != nil {
			return nil, fmt.Errorf("model: graph loss: %w", err)
		}
		if rowLoss, err = G.Sub(sp, yz); err != nil {
			return nil, fmt.Errorf("model: graph loss: %w", err)
		}
	} else {
		d, err := G.Sub(logit, n.y)
		if err != nil {
			return nil, fmt.Errorf("model: graph loss: %w", err)
		}
		if rowLoss, err = G.Square(d); err != nil {
			return nil, fmt.Errorf("model: graph loss: %w", err)
		}
	}
	weighted, err := G.HadamardProd(rowLoss, n.mask)
	if err != nil {
		return nil, fmt.Errorf("model: graph loss: %w", err)
	}
	if n.cost, err = G.Sum(weighted); err != nil {
		return nil, fmt.Errorf("model: graph loss: %w", err)
	}
	if _, err = G.Grad(n.cost, n.learnables...); err != nil {
		return nil, fmt.Errorf("model: graph gradients: %w", err)
	}
	n.vm = G.NewTapeMachine(g, G.BindDualValues(n.learnables...))
	return n, nil
}

// graphForward runs m on rows rows of raw input through a forward-only
// gorgonia graph: the training graph's network without the cost. It is the
// reference the Engine is checked against.
func graphForward(m *Model, x []float32, rows int) ([]float32, error) {
	n, err := buildNet(m.Layers, m.Task, rows, false)
	if err != nil {
		return nil, err
	}
	defer n.vm.Close()
	in := len(m.Inputs)
	for i := range rows {
		normalize(n.xb[i*in:(i+1)*in], x[i*in:(i+1)*in], m.Mean, m.Scale)
	}
	if err := n.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("model: forward graph: %w", err)
	}
	return append([]float32(nil), n.out.Value().Data().([]float32)...), nil
}
