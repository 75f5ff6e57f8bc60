package model

import (
	"math"
	"slices"
)

// logLossEps clips probabilities for the log-loss: float32 cannot
// represent 1 - p much closer to 1.
const logLossEps = 1e-7

// evaluate scores m on the given rows of ds with the Engine, the code that
// will serve it, and returns its predictions, row for row.
func evaluate(m *Model, ds *Dataset, rows []int) (Metrics, []float32, error) {
	e, err := NewEngine(m, nil)
	if err != nil {
		return nil, nil, err
	}
	in := len(m.Inputs)
	x := make([]float32, len(rows)*in)
	y := make([]float32, len(rows))
	for i, r := range rows {
		copy(x[i*in:(i+1)*in], ds.X[r*in:(r+1)*in])
		y[i] = ds.Y[r]
	}
	p := make([]float32, len(rows))
	if err := e.Predict(x, len(rows), p); err != nil {
		return nil, nil, err
	}
	met := Metrics{"holdout_rows": float64(len(rows))}
	if m.Task == Binary {
		if auc, ok := AUC(p, y); ok {
			met["auc"] = auc
		}
		met["log_loss"] = LogLoss(p, y)
		met["accuracy"] = Accuracy(p, y)
	} else {
		met["rmse"], met["mae"] = RMSE(p, y), MAE(p, y)
	}
	return met, p, nil
}

// AUC returns the area under the ROC curve of scores p for 0/1 labels y,
// exactly: the Mann–Whitney statistic from average ranks, so tied scores
// count one half. ok is false when y holds only one class.
func AUC(p, y []float32) (auc float64, ok bool) {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	var rankSum float64 // sum of the positives' 1-based average ranks
	var pos int
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		avg := float64(i+1+j) / 2 // mean of ranks i+1..j
		for _, k := range idx[i:j] {
			if y[k] == 1 {
				rankSum += avg
				pos++
			}
		}
		i = j
	}
	neg := len(p) - pos
	if pos == 0 || neg == 0 {
		return 0, false
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg)), true
}

// LogLoss returns the mean binary cross-entropy of probabilities p for 0/1
// labels y, with p clipped to [1e-7, 1-1e-7].
func LogLoss(p, y []float32) float64 {
	var s float64
	for i, pi := range p {
		q := min(max(float64(pi), logLossEps), 1-logLossEps)
		if y[i] == 1 {
			s -= math.Log(q)
		} else {
			s -= math.Log(1 - q)
		}
	}
	return s / float64(len(p))
}

// Accuracy returns the fraction of rows where p >= 0.5 agrees with y == 1.
func Accuracy(p, y []float32) float64 {
	var hit int
	for i, pi := range p {
		if (pi >= 0.5) == (y[i] == 1) {
			hit++
		}
	}
	return float64(hit) / float64(len(p))
}

// RMSE returns the root mean squared error of p against y.
func RMSE(p, y []float32) float64 {
	var s float64
	for i, pi := range p {
		d := float64(pi) - float64(y[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(p)))
}

// MAE returns the mean absolute error of p against y.
func MAE(p, y []float32) float64 {
	var s float64
	for i, pi := range p {
		s += math.Abs(float64(pi) - float64(y[i]))
	}
	return s / float64(len(p))
}
