package report

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fstore/fstore/skewcheck/drift"
)

const evilName = `odd__</script><script>alert(1)</script>&"name'`

// sampleReport runs a real monitor through one window: a numeric feature
// shifted by half a standard deviation, a categorical feature whose
// category "d" doubles, one as the baseline, one that saw too little, a
// feature with a hostile name, and a model version's predictions.
func sampleReport(t testing.TB) drift.Report {
	var now atomic.Int64
	t0 := time.Date(2026, 1, 8, 12, 0, 0, 0, time.UTC)
	now.Store(t0.UnixNano())
	m, err := drift.NewMonitor(&drift.Options{Window: 5 * time.Minute, CheckInterval: time.Hour,
		Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 100_000)
	for i := range xs {
		xs[i] = 0.4 + 0.1*r.NormFloat64()
	}
	slices.Sort(xs)
	cuts := make([]float64, 99)
	for k := range cuts {
		cuts[k] = xs[(k+1)*len(xs)/100-1]
	}
	nb, err := drift.NewNumericBaseline(cuts, int64(len(xs)), 0.02)
	if err != nil {
		t.Fatal(err)
	}
	cb := drift.CategoricalBaseline{Values: []string{"a", "b", "c", "d", "e"}, Shares: []float64{0.3, 0.25, 0.2, 0.1, 0.1}, Other: 0.05, Count: 100_000}
	num, cat := drift.Baseline{Numeric: &nb}, drift.Baseline{Categorical: &cb}
	fs, err := m.Register(drift.SubjectSpec{Kind: drift.KindFeatureService, Name: "driver_ranking", BaselineSource: "quickstart/train.parquet",
		Features: []drift.FeatureSpec{
			{Name: "driver_hourly__conv_rate", Type: drift.Float64, Baseline: num},
			{Name: "driver_hourly__city", Type: drift.String, Baseline: cat},
			{Name: "driver_hourly__acc_rate", Type: drift.Float64, Baseline: num},
			{Name: "driver_hourly__rare", Type: drift.String, Baseline: cat},
			{Name: evilName, Type: drift.String, Baseline: cat},
		}})
	if err != nil {
		t.Fatal(err)
	}
	mv, err := m.Register(drift.SubjectSpec{Kind: drift.KindModelVersion, Name: "completion/v3", BaselineSource: "models/completion/3",
		Features: []drift.FeatureSpec{{Name: "prediction", Type: drift.Float64, Baseline: num}}})
	if err != nil {
		t.Fatal(err)
	}
	f := fs.Features()
	draw := func(shares []float64) string {
		u := r.Float64()
		for i, s := range shares {
			if u < s {
				return []string{"a", "b", "c", "d", "e", "f"}[i]
			}
			u -= s
		}
		return "f"
	}
	doubled := []float64{0.3 * 8 / 9, 0.25 * 8 / 9, 0.2 * 8 / 9, 0.2, 0.1 * 8 / 9, 0.05 * 8 / 9}
	for range 10_000 {
		f[0].ObserveFloat(0.45 + 0.1*r.NormFloat64())
		f[1].ObserveString(draw(doubled))
		f[2].ObserveFloat(0.4 + 0.1*r.NormFloat64())
		f[4].ObserveString(draw(cb.Shares))
		mv.Features()[0].ObserveFloat(0.42 + 0.1*r.NormFloat64())
	}
	for range 300 {
		f[2].ObserveStatus(drift.StatusNotFound)
		f[3].ObserveString("a")
	}
	now.Add(int64(5*time.Minute + 30*time.Second))
	m.Snapshot()
	for range 2000 {
		f[0].ObserveFloat(0.45 + 0.1*r.NormFloat64())
	}
	return m.Snapshot()
}

func writeSample(t *testing.T) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sampleReport(t), nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "skew.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes()
}

func TestWriteHTML(t *testing.T) {
	_, page := writeSample(t)
	s := string(page)
	for _, want := range []string{
		"<title>fstore skew report</title>",
		`data-charts-expected="6"`,
		`<span class="badge alert">alert</span>`,
		`<span class="badge insufficient-data">insufficient data</span>`,
		"driver_ranking", "completion/v3", "quickstart/train.parquet",
		"driver_hourly__conv_rate", "KS D", "L∞", "null rate Δ",
		`<td class="names alert">driver_hourly__conv_rate, driver_hourly__city</td>`,
		"uPlot", // the library, inlined
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// No network: nothing loads from elsewhere.
	if regexp.MustCompile(`(?i)(src|href)=["']?(https?:)?//`).MatchString(s) {
		t.Error("page refers to a network resource")
	}
	// The hostile name: escaped in the HTML, and unable to end the data's
	// script block.
	if strings.Contains(s, evilName) || strings.Contains(s, "<script>alert(1)") {
		t.Error("a feature name reached the page unescaped")
	}
	if !strings.Contains(s, "odd__&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;name&#39;") {
		t.Error("the hostile name is not shown escaped")
	}
	start := strings.Index(s, `<script type="application/json" id="skew-data">`)
	end := strings.Index(s[start:], "</script>")
	block := s[start : start+end]
	if !strings.Contains(block, `odd__\u003c/script\u003e`) {
		t.Errorf("the data block does not hold the escaped name")
	}
	if n := strings.Count(s, "<script"); n != 3 {
		t.Errorf("%d script elements, want 3 (data, uPlot, drawing)", n)
	}
}

// TestBrowserRendersCharts opens the page in headless Chromium and reads
// the DOM the scripts leave: every chart drawn, no script error.
func TestBrowserRendersCharts(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not on PATH (apt-get install chromium); the browser check is skipped")
	}
	path, _ := writeSample(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--window-size=1200,2000", "--virtual-time-budget=5000", "--dump-dom", "file://"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, tail(stderr.String()))
	}
	dom := string(out)
	body := regexp.MustCompile(`<body[^>]*>`).FindString(dom)
	if !strings.Contains(body, `data-charts-rendered="6"`) || !strings.Contains(body, `data-js-errors="0"`) {
		errs := regexp.MustCompile(`(?s)<pre id="js-errors"[^>]*>(.*?)</pre>`).FindStringSubmatch(dom)
		t.Fatalf("body %s; script errors: %v\n%s", body, errs, tail(stderr.String()))
	}
	if n := strings.Count(dom, `data-rendered="1"`); n != 6 {
		t.Errorf("%d charts marked rendered, want 6", n)
	}
	if n := strings.Count(dom, "<canvas"); n < 6 {
		t.Errorf("%d canvases, want 6", n)
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}
