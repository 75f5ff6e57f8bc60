package drift

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Epsilon is the smoothing PSI applies: every bin's share, baseline and
// served alike, becomes (p + Epsilon) / (1 + B·Epsilon) for B bins. PSI has
// ln(q/p) in it, which an empty bin makes infinite; add-ε keeps it finite
// while moving no non-empty bin by much: at the default MinSamples (1,000)
// one sample is a share of 1e-3, ten times ε, so an empty served bin reads
// as a tenth of a sample and its term is bounded by |p−q|·ln(p/ε) (about
// 0.046 for a 1% bin). Laplace (add one sample) would instead depend on the
// window's size and dominate small windows.
const Epsilon = 1e-4

// PSI is the population stability index of served shares q against
// baseline shares p over the same bins:
//
//	PSI = Σ_i (q_i − p_i) · ln(q_i / p_i)
//
// after add-ε smoothing of both (see Epsilon). It is symmetric, zero for
// equal distributions and unbounded above; the usual reading is < 0.1
// stable, 0.1–0.2 moderate shift, > 0.2 significant shift.
func PSI(p, q []float64) float64 {
	n := min(len(p), len(q))
	norm := 1 + float64(n)*Epsilon
	var s float64
	for i := 0; i < n; i++ {
		pi := (p[i] + Epsilon) / norm
		qi := (q[i] + Epsilon) / norm
		s += (qi - pi) * math.Log(qi/pi)
	}
	return s
}

// JS is the Jensen–Shannon divergence, base 2, of shares p and q:
//
//	JS = ½ Σ_i p_i·log2(p_i/m_i) + ½ Σ_i q_i·log2(q_i/m_i),  m = (p+q)/2
//
// with 0·log 0 = 0. It needs no smoothing (m_i > 0 wherever p_i or q_i
// is), is symmetric and lies in [0, 1]: 1 for distributions with disjoint
// support.
func JS(p, q []float64) float64 {
	n := min(len(p), len(q))
	var s float64
	for i := 0; i < n; i++ {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			s += p[i] * math.Log2(p[i]/m)
		}
		if q[i] > 0 {
			s += q[i] * math.Log2(q[i]/m)
		}
	}
	return clamp01(s / 2)
}

// KS is the Kolmogorov–Smirnov statistic of binned shares: the largest
// difference between the cumulative distributions at the bin edges,
//
//	D = max_k | Σ_{i≤k} p_i − Σ_{i≤k} q_i |
//
// It is the exact two-sample D restricted to the edges, so it never
// exceeds the D of the raw samples (which makes its test conservative).
func KS(p, q []float64) float64 {
	n := min(len(p), len(q))
	var cp, cq, d float64
	for i := 0; i+1 < n; i++ {
		cp += p[i]
		cq += q[i]
		d = max(d, math.Abs(cp-cq))
	}
	return clamp01(d)
}

// LInf is the largest absolute share difference over the bins (for a
// categorical feature: the categories and "other"):
//
//	L∞ = max_i | p_i − q_i |
func LInf(p, q []float64) float64 {
	n := min(len(p), len(q))
	var d float64
	for i := 0; i < n; i++ {
		d = max(d, math.Abs(p[i]-q[i]))
	}
	return d
}

// KSCritical is the two-sample Kolmogorov–Smirnov critical value at level
// alpha for samples of n (baseline) and m (served) values, from the
// asymptotic distribution:
//
//	D_crit = c(α) · sqrt((n + m) / (n·m)),  c(α) = sqrt(−ln(α/2) / 2)
//
// A D above it rejects "same distribution" at level alpha. n ≤ 0 means the
// baseline is taken as exact (the one-sample value c(α)/sqrt(m)); m ≤ 0
// gives +Inf (nothing is significant without data).
func KSCritical(alpha float64, n, m int64) float64 {
	if m <= 0 {
		return math.Inf(1)
	}
	c := math.Sqrt(-math.Log(alpha/2) / 2)
	if n <= 0 {
		return c / math.Sqrt(float64(m))
	}
	fn, fm := float64(n), float64(m)
	return c * math.Sqrt((fn+fm)/(fn*fm))
}

// ChiSquare tests whether served counts come from the baseline's bins:
// the chi-square test of homogeneity of the two samples when the baseline
// count n is known,
//
//	X² = Σ_i (s_i·sqrt(n/m) − b_i·sqrt(m/n))² / (b_i + s_i),  b_i = p_i·n
//
// over bins where b_i + s_i > 0, with df = (those bins) − 1; and the
// goodness-of-fit test X² = Σ (s_i − m·p_i)² / (m·p_i) against exact shares
// when n ≤ 0 (a served count in a bin of baseline share 0 then gives
// X² = +Inf). It returns the statistic, the degrees of freedom and the
// p-value P(χ²_df ≥ X²); with no served counts or a single bin, p = 1.
func ChiSquare(p []float64, n int64, served []int64) (stat float64, df int, pValue float64) {
	var m int64
	for _, s := range served {
		m += s
	}
	if m == 0 {
		return 0, 0, 1
	}
	fm, fn := float64(m), float64(n)
	bins := 0
	for i := range min(len(p), len(served)) {
		s := float64(served[i])
		if n > 0 {
			b := p[i] * fn
			if b+s == 0 {
				continue
			}
			bins++
			d := s*math.Sqrt(fn/fm) - b*math.Sqrt(fm/fn)
			stat += d * d / (b + s)
			continue
		}
		e := fm * p[i]
		if e == 0 {
			if s > 0 {
				stat = math.Inf(1)
			}
			continue
		}
		bins++
		stat += (s - e) * (s - e) / e
	}
	df = max(bins-1, 0)
	if math.IsInf(stat, 1) {
		return stat, df, 0
	}
	if df < 1 {
		return stat, 0, 1
	}
	return stat, df, distuv.ChiSquared{K: float64(df)}.Survival(stat)
}

// ProportionTest is the two-sided two-proportion z-test of x successes in
// m served trials against a baseline proportion p0 measured over n trials:
//
//	z = (x/m − p0) / sqrt(p̂(1−p̂)(1/m + 1/n)),  p̂ = (x + p0·n)/(m + n)
//
// (n ≤ 0: p0 is exact and z = (x/m − p0)/sqrt(p0(1−p0)/m)). It returns the
// p-value 2·(1 − Φ(|z|)); a zero standard error gives 0 when the
// proportions differ and 1 when they do not.
func ProportionTest(x, m int64, p0 float64, n int64) float64 {
	if m <= 0 {
		return 1
	}
	p1 := float64(x) / float64(m)
	var se float64
	if n > 0 {
		ph := (float64(x) + p0*float64(n)) / float64(m+n)
		se = math.Sqrt(ph * (1 - ph) * (1/float64(m) + 1/float64(n)))
	} else {
		se = math.Sqrt(p0 * (1 - p0) / float64(m))
	}
	if se == 0 || math.IsNaN(se) {
		if p1 == p0 {
			return 1
		}
		return 0
	}
	z := math.Abs(p1-p0) / se
	return 2 * distuv.UnitNormal.Survival(z)
}

// shares returns counts divided by their total into dst (all zero for a
// zero total).
func shares(dst []float64, counts []int64) []float64 {
	var t int64
	for _, c := range counts {
		t += c
	}
	dst = dst[:0]
	for _, c := range counts {
		if t == 0 {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, float64(c)/float64(t))
	}
	return dst
}

func clamp01(x float64) float64 { return max(0, min(1, x)) }
