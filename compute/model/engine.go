package model

import (
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gorgonia.org/tensor"
)

// EngineOptions configure an Engine. The zero value, or nil, means the
// defaults.
type EngineOptions struct {
	// MaxBatch is the most rows one pass through the network computes;
	// Predict splits larger calls into passes. Default 256, at most 65536.
	// A pass is also capped so that every matrix multiply stays on gonum's
	// serial path (which does not allocate): at 192 rows when every layer
	// is at most 64 wide, at 64 rows otherwise.
	MaxBatch int
}

// maxMaxBatch bounds EngineOptions.MaxBatch.
const maxMaxBatch = 1 << 16

// EnsureDefaults fills in the zero fields of o.
func (o *EngineOptions) EnsureDefaults() {
	if o.MaxBatch == 0 {
		o.MaxBatch = 256
	}
}

// Validate checks o after EnsureDefaults.
func (o *EngineOptions) Validate() error {
	if o.MaxBatch < 1 || o.MaxBatch > maxMaxBatch {
		return inputErrorf("engine MaxBatch %d, want 1..%d", o.MaxBatch, maxMaxBatch)
	}
	return nil
}

// Serial-multiply limits of gonum's Sgemm (blas/gonum: blockSize 64,
// minParBlock 4): an m×n product runs serially, without goroutines or
// allocation, when ceil(m/64)·ceil(n/64) < 4.
const (
	gemmBlock = 64
	// maxGroup is the widest column group of one multiply; a wider layer
	// is split into groups of at most this many output columns.
	maxGroup = 3 * gemmBlock
)

// Engine runs batched inference for one Model. It is safe for concurrent
// use: each Predict call borrows a runner (preallocated tensors for every
// batch-size class) from a pool, so that steady-state inference builds no
// graph and allocates nothing. The pool keeps up to 2×GOMAXPROCS runners
// (at least 4); more concurrent calls than that build runners that are
// then dropped.
type Engine struct {
	m    *Model
	tile int // rows per pass
	// classes are the batch-size classes, ascending, the last being tile;
	// classOf[k] is the index of the smallest class >= k rows.
	classes []int
	classOf []uint16
	layers  []engineLayer
	// free holds idle runners. A channel rather than a sync.Pool: a
	// runner is large (its buffers and a tensor header per class and
	// layer), and a sync.Pool drops its contents at every other GC, which
	// a busy server triggers often, so runners would be rebuilt in steady
	// state. Predict builds a runner only when every pooled one is in use
	// and drops it when the pool is full.
	free chan *runner
}

// engineLayer is one layer's weights, split into column groups of at most
// maxGroup outputs each, every group's weights contiguous and row-major
// (In×width, or width×In when transposed). A layer of one untransposed
// group shares the Model's W.
type engineLayer struct {
	in, out int
	groups  []group
	b       []float32
	relu    bool
}

type group struct {
	off, width int // output columns [off, off+width)
	w          []float32
	// transposed groups hold w as width×In (Wᵀ, row-major) and multiply by
	// its lazy transpose: with few outputs a row of a·Wᵀ is a handful of
	// dot products, where a·W would be In axpys of a few elements each
	// (for the 1-wide output layer, ten times slower).
	transposed bool
}

// transposeBelow is the width under which a layer keeps Wᵀ.
const transposeBelow = 16

// NewEngine validates m and prepares an Engine for it. m must not be
// modified afterwards. Errors match ErrInput.
func NewEngine(m *Model, opts *EngineOptions) (*Engine, error) {
	var o EngineOptions
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{m: m}
	rowCap := 3 * gemmBlock
	for li, l := range m.Layers {
		el := engineLayer{in: l.In, out: l.Out, b: l.B, relu: li < len(m.Layers)-1}
		switch {
		case l.Out < transposeBelow:
			wt := make([]float32, l.In*l.Out)
			for i := range l.In {
				for j := range l.Out {
					wt[j*l.In+i] = l.W[i*l.Out+j]
				}
			}
			el.groups = []group{{off: 0, width: l.Out, w: wt, transposed: true}}
		case l.Out <= maxGroup:
			el.groups = []group{{off: 0, width: l.Out, w: l.W}}
		default:
			for off := 0; off < l.Out; off += maxGroup {
				g := group{off: off, width: min(maxGroup, l.Out-off)}
				g.w = make([]float32, l.In*g.width)
				for i := range l.In {
					copy(g.w[i*g.width:(i+1)*g.width], l.W[i*l.Out+off:i*l.Out+off+g.width])
				}
				el.groups = append(el.groups, g)
			}
		}
		for _, g := range el.groups {
			rowCap = min(rowCap, gemmBlock*(3/blocks(g.width)))
		}
		e.layers = append(e.layers, el)
	}
	e.tile = min(o.MaxBatch, rowCap)
	// Classes: 1, 2, 4, then multiples of 8, then the tile itself, so a
	// pass computes at most 7 padding rows.
	for c := 1; c < e.tile; {
		e.classes = append(e.classes, c)
		if c < 8 {
			c *= 2
		} else {
			c += 8
		}
	}
	e.classes = append(e.classes, e.tile)
	e.classOf = make([]uint16, e.tile+1)
	ci := 0
	for k := 1; k <= e.tile; k++ {
		for e.classes[ci] < k {
			ci++
		}
		e.classOf[k] = uint16(ci)
	}
	e.free = make(chan *runner, max(4, 2*runtime.GOMAXPROCS(0)))
	return e, nil
}

func blocks(n int) int { return (n + gemmBlock - 1) / gemmBlock }

// Model returns the engine's model, which callers must not modify.
func (e *Engine) Model() *Model { return e.m }

// Predict computes the model's output for rows rows of raw input: x holds
// rows×len(Inputs) values, row-major in Inputs order, un-normalised, NaN
// meaning missing. out[:rows] receives the predictions: probabilities for
// Binary, values for Regression. Rows are independent: a row's prediction
// does not depend on the other rows of the call, and an infinite input
// spoils only its own row's prediction. Predict reads x and writes out only
// during the call. Errors match ErrShape.
func (e *Engine) Predict(x []float32, rows int, out []float32) error {
	n := len(e.m.Inputs)
	switch {
	case rows < 0:
		return shapeErrorf("predict: rows %d < 0", rows)
	case len(x) != rows*n:
		return shapeErrorf("predict: x has %d values, want %d rows × %d inputs = %d", len(x), rows, n, rows*n)
	case len(out) < rows:
		return shapeErrorf("predict: out has room for %d predictions, want %d", len(out), rows)
	case rows == 0:
		return nil
	}
	var r *runner
	select {
	case r = <-e.free:
	default:
		r = e.newRunner()
	}
	for off := 0; off < rows; off += e.tile {
		k := min(e.tile, rows-off)
		r.pass(e, x[off*n:(off+k)*n], k, out[off:off+k])
	}
	select {
	case e.free <- r:
	default:
	}
	return nil
}

// runner holds the buffers and tensors of one in-flight Predict call.
// Every tensor is a header over a prefix of the runner's backing arrays,
// one set per batch-size class, so a pass of k rows multiplies matrices of
// exactly class(k) rows with no reshaping.
type runner struct {
	in  []float32   // tile × In of layer 1: the normalised input
	act [][]float32 // per layer: tile × Out, the activations
	grp [][]float32 // per layer with several groups: tile × maxGroup scratch
	w   [][]*tensor.Dense
	cls []classTensors
}

type classTensors struct {
	x []*tensor.Dense   // per layer: its input, c × In
	y [][]*tensor.Dense // per layer, per group: its product, c × width
}

func (e *Engine) newRunner() *runner {
	eng := tensor.Engine(matMulEngine{})
	dense := func(rows, cols int, backing []float32) *tensor.Dense {
		return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(backing[:rows*cols]), tensor.WithEngine(eng))
	}
	n := len(e.m.Inputs)
	r := &runner{
		in:  make([]float32, e.tile*n),
		act: make([][]float32, len(e.layers)),
		grp: make([][]float32, len(e.layers)),
		w:   make([][]*tensor.Dense, len(e.layers)),
	}
	for li, l := range e.layers {
		r.act[li] = make([]float32, e.tile*l.out)
		if len(l.groups) > 1 {
			r.grp[li] = make([]float32, e.tile*maxGroup)
		}
		for _, g := range l.groups {
			if !g.transposed {
				r.w[li] = append(r.w[li], dense(l.in, g.width, g.w))
				continue
			}
			wt := dense(g.width, l.in, g.w)
			if err := wt.T(); err != nil {
				panic(err) // a 2-D Dense always transposes
			}
			r.w[li] = append(r.w[li], wt)
		}
	}
	r.cls = make([]classTensors, len(e.classes))
	for ci, c := range e.classes {
		ct := &r.cls[ci]
		ct.x = make([]*tensor.Dense, len(e.layers))
		ct.y = make([][]*tensor.Dense, len(e.layers))
		for li, l := range e.layers {
			if li == 0 {
				ct.x[li] = dense(c, n, r.in)
			} else if len(ct.y[li-1]) == 1 {
				ct.x[li] = ct.y[li-1][0]
			} else {
				ct.x[li] = dense(c, l.in, r.act[li-1])
			}
			if len(l.groups) == 1 {
				ct.y[li] = []*tensor.Dense{dense(c, l.out, r.act[li])}
				continue
			}
			// The groups share the scratch: pass copies each group's
			// product out before computing the next.
			for _, g := range l.groups {
				ct.y[li] = append(ct.y[li], dense(c, g.width, r.grp[li]))
			}
		}
	}
	return r
}

// pass runs k <= tile rows through the network.
func (r *runner) pass(e *Engine, x []float32, k int, out []float32) {
	m := e.m
	n := len(m.Inputs)
	ci := e.classOf[k]
	c := e.classes[ci]
	ct := &r.cls[ci]
	for i := range k {
		normalize(r.in[i*n:(i+1)*n], x[i*n:(i+1)*n], m.Mean, m.Scale)
	}
	// Padding rows are computed and discarded; zeroing them keeps stale
	// values (possibly infinite or subnormal) from slowing the multiply.
	clear(r.in[k*n : c*n])
	for li := range e.layers {
		l := &e.layers[li]
		if len(l.groups) == 1 {
			_ = matMul(ct.x[li], r.w[li][0], ct.y[li][0])
			biasAct(r.act[li][:k*l.out], l.b, l.relu)
			continue
		}
		act := r.act[li]
		for gi, g := range l.groups {
			_ = matMul(ct.x[li], r.w[li][gi], ct.y[li][gi])
			src := r.grp[li]
			for i := range k {
				dst := act[i*l.out+g.off : i*l.out+g.off+g.width]
				copy(dst, src[i*g.width:(i+1)*g.width])
			}
		}
		biasAct(act[:k*l.out], l.b, l.relu)
		clear(act[k*l.out : c*l.out])
	}
	last := r.act[len(e.layers)-1][:k]
	if m.Task == Binary {
		for i, z := range last {
			out[i] = sigmoid(z)
		}
	} else {
		copy(out, last)
	}
}

// biasAct adds the bias to every row of a (rows × len(b), row-major) and
// applies ReLU when relu is set, in place.
func biasAct(a, b []float32, relu bool) {
	w := len(b)
	if !relu {
		for off := 0; off+w <= len(a); off += w {
			row := a[off : off+w : off+w]
			for j, bj := range b {
				row[j] += bj
			}
		}
		return
	}
	for off := 0; off+w <= len(a); off += w {
		row := a[off : off+w : off+w]
		for j, bj := range b {
			// ReLU without a branch, which the signs of fresh activations
			// would mispredict half the time: a negative value's sign bit,
			// spread to a mask, clears it to +0.
			u := math.Float32bits(row[j] + bj)
			row[j] = math.Float32frombits(u &^ uint32(int32(u)>>31))
		}
	}
}

// matMul multiplies through the tensors' engine.
func matMul(a, b, c *tensor.Dense) error {
	return matMulEngine{}.MatMul(a, b, c)
}

// matMulEngine is the tensor.Engine of the inference tensors: the standard
// engine, with a MatMul that reaches the same BLAS call (tensor.WhichBLAS,
// gonum's Sgemm by default) without tensor.StdEng.MatMul's two allocations
// per call (it finds the element type through Dense.Data, which builds an
// interface value with reflection). It takes that path for contiguous,
// row-major, untransposed float32 *Dense operands of matching shapes, which
// is every call the Engine makes, and defers to StdEng otherwise.
type matMulEngine struct{ tensor.StdEng }

// MatMul computes c = a·b.
func (matMulEngine) MatMul(a, b, c tensor.Tensor) error {
	ad, ok1 := a.(*tensor.Dense)
	bd, ok2 := b.(*tensor.Dense)
	cd, ok3 := c.(*tensor.Dense)
	if !ok1 || !ok2 || !ok3 || !plainF32(ad) || !plainF32(cd) {
		return tensor.StdEng{}.MatMul(a, b, c)
	}
	as, bs, cs := ad.Shape(), bd.Shape(), cd.Shape()
	if len(as) != 2 || len(bs) != 2 || len(cs) != 2 || as[1] != bs[0] || cs[0] != as[0] || cs[1] != bs[1] {
		return tensor.StdEng{}.MatMul(a, b, c)
	}
	m, k, n := as[0], as[1], bs[1]
	tB, ldb := blas.NoTrans, n
	switch {
	case plainF32(bd):
	case transposedF32(bd, k, n):
		tB, ldb = blas.Trans, k
	default:
		return tensor.StdEng{}.MatMul(a, b, c)
	}
	tensor.WhichBLAS().Sgemm(blas.NoTrans, tB, m, n, k, 1, ad.Float32s(), k, bd.Float32s(), ldb, 0, cd.Float32s(), n)
	return nil
}

// plainF32 reports whether t is float32, row-major, contiguous and
// neither a view nor transposed.
func plainF32(t *tensor.Dense) bool {
	o := t.DataOrder()
	return t.Dtype() == tensor.Float32 && o.IsRowMajor() && o.IsContiguous() && !t.IsMaterializable() && !t.IsMasked()
}

// transposedF32 reports whether t, of shape k×n, is the lazy transpose
// (Dense.T) of a contiguous row-major n×k float32 matrix. (tensor reports
// the strides of a transposed 1×k matrix as [1 1], not [1 k].)
func transposedF32(t *tensor.Dense, k, n int) bool {
	o := t.DataOrder()
	s := t.Strides()
	return t.Dtype() == tensor.Float32 && o.IsRowMajor() && o.IsTransposed() && !t.IsView() && !t.IsMasked() &&
		len(s) == 2 && s[0] == 1 && (s[1] == k || n == 1) && len(t.Float32s()) == k*n
}
