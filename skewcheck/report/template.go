package report

// pageHTML is the page. The data and uPlot are inlined; the script at the
// end draws every [data-chart] element and records on <body> how many it
// drew (data-charts-rendered) and how many script errors occurred
// (data-js-errors), which the browser test reads from the DOM.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.Style}}</style>
<style>
:root { --ok:#1a7f37; --warn:#9a6700; --alert:#cf222e; --insufficient:#6e7781; --line:#d0d7de; --muted:#57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color:#1f2328; margin:0; background:#f6f8fa; }
header { background:#fff; border-bottom:1px solid var(--line); padding:18px 32px; display:flex; align-items:center; gap:16px; flex-wrap:wrap; }
header h1 { font-size:20px; margin:0; }
header .meta { color:var(--muted); }
main { padding:20px 32px 48px; max-width:1400px; }
h2 { font-size:17px; margin:28px 0 10px; }
table { border-collapse:collapse; background:#fff; }
th, td { padding:6px 12px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
.summary { width:100%; border:1px solid var(--line); border-radius:6px; }
.badge { display:inline-block; padding:1px 10px; border-radius:999px; font-size:12px; font-weight:600; color:#fff; white-space:nowrap; }
.badge.ok { background:var(--ok); } .badge.warn { background:var(--warn); } .badge.alert { background:var(--alert); } .badge.insufficient-data { background:var(--insufficient); }
.names.alert { color:var(--alert); } .names.warn { color:var(--warn); }
.subject { margin-top:28px; }
.subject > h2 { display:flex; gap:10px; align-items:center; }
.subject .kind { color:var(--muted); font-weight:400; font-size:13px; }
.cards { display:grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap:16px; }
.card { background:#fff; border:1px solid var(--line); border-left:5px solid var(--insufficient); border-radius:6px; padding:14px 16px; }
.card.ok { border-left-color:var(--ok); } .card.warn { border-left-color:var(--warn); } .card.alert { border-left-color:var(--alert); }
.card h3 { margin:0 0 2px; font-size:15px; display:flex; gap:8px; align-items:center; word-break:break-all; }
.card .sub { color:var(--muted); font-size:12px; margin-bottom:8px; }
.card table { width:100%; font-size:13px; margin-top:8px; }
.card td, .card th { padding:3px 8px; }
.reasons { margin:6px 0 0; padding-left:18px; color:var(--alert); font-size:13px; }
.chart { min-height:240px; }
.note { color:var(--muted); font-size:12px; margin-top:4px; }
#js-errors { color:var(--alert); background:#fff; border:1px solid var(--alert); padding:8px; }
.empty { color:var(--muted); }
</style>
</head>
<body data-charts-expected="{{.ChartCount}}" data-charts-rendered="0" data-js-errors="0">
<header>
<h1>{{.Title}}</h1>
<span class="badge {{class .State}}">{{label .State}}</span>
<span class="meta">generated {{.GeneratedAt}} · window {{.Window}} · states are the last completed window's</span>
</header>
<main>
<pre id="js-errors" hidden></pre>
<h2>Summary</h2>
{{if .Subjects}}
<table class="summary">
<thead><tr><th>Subject</th><th>Kind</th><th>State</th><th>In alert</th><th>In warn</th><th>Insufficient data</th><th>Baseline</th></tr></thead>
<tbody>
{{range .Subjects}}<tr>
<td><a href="#{{.Anchor}}">{{.Name}}</a></td><td>{{.Kind}}</td><td><span class="badge {{class .State}}">{{label .State}}</span></td>
<td class="names alert">{{join .Alert}}</td><td class="names warn">{{join .Warn}}</td><td class="names">{{len .Insufficient}}</td><td>{{.Source}}</td>
</tr>
{{end}}</tbody>
</table>
{{else}}<p class="empty">No subjects are monitored.</p>{{end}}
{{range .Subjects}}
<section class="subject" id="{{.Anchor}}">
<h2>{{.Name}} <span class="kind">{{.Kind}}</span> <span class="badge {{class .State}}">{{label .State}}</span></h2>
<div class="cards">
{{range .Features}}
<div class="card {{class .State}}" id="{{.Anchor}}">
<h3>{{.Name}} <span class="badge {{class .State}}">{{label .State}}</span></h3>
<div class="sub">{{.Type}} · last window {{.Window}}</div>
<div class="chart" data-chart="{{.Chart}}"></div>
<div class="note">{{.ChartNote}}</div>
{{if .Reasons}}<ul class="reasons">{{range .Reasons}}<li>{{.}}</li>{{end}}</ul>{{end}}
<table>
<thead><tr><th>Metric</th><th class="num">Last window</th><th class="num">Current</th><th class="num">Since start</th><th class="num">Warn</th><th class="num">Alert</th></tr></thead>
<tbody>
{{range .Rows}}<tr><td>{{.Metric}}</td><td class="num">{{.Window}}</td><td class="num">{{.Current}}</td><td class="num">{{.Since}}</td><td class="num">{{.Warn}}</td><td class="num">{{.Alert}}</td></tr>
{{end}}</tbody>
</table>
</div>
{{end}}
</div>
</section>
{{end}}
</main>
<script type="application/json" id="skew-data">{{.Data}}</script>
<script>{{.Script}}</script>
<script>
(function () {
  var errors = [];
  function fail(msg) {
    errors.push(msg);
    document.body.setAttribute("data-js-errors", String(errors.length));
    var p = document.getElementById("js-errors");
    p.textContent = errors.join("\n");
    p.hidden = false;
  }
  window.addEventListener("error", function (e) { fail(String(e.message) + (e.error && e.error.stack ? "\n" + e.error.stack : "")); });
  var charts;
  try {
    charts = JSON.parse(document.getElementById("skew-data").textContent);
  } catch (e) { fail("chart data: " + e); return; }
  var colors = ["#8c959f", "#0969da", "#bf3989"];
  var fills = ["rgba(140,149,159,0.25)", "rgba(9,105,218,0.55)", "rgba(191,57,137,0.45)"];
  var rendered = 0;
  var els = document.querySelectorAll("[data-chart]");
  Array.prototype.forEach.call(els, function (el, k) {
    // A function per chart: uPlot calls the closures below later, each
    // must see its own chart.
    var c = charts[Number(el.getAttribute("data-chart"))];
    try {
      var width = Math.max(300, el.clientWidth || 520);
      var data = [c.x].concat(c.series);
      var series = [{}];
      var opts = { width: width, height: 230, legend: { show: true, live: false }, cursor: { drag: { x: false, y: false } }, series: series };
      if (c.numeric) {
        var step = uPlot.paths.stepped({ align: 1 });
        c.series.forEach(function (s, i) {
          series.push({ label: c.names[i], stroke: colors[i], width: i === 0 ? 1 : 2, fill: i === 0 ? fills[0] : undefined,
            dash: i === 2 ? [6, 4] : undefined, paths: step, points: { show: false },
            value: function (u, v) { return v == null ? "–" : v.toPrecision(3); } });
        });
        opts.scales = { x: { time: false }, y: { range: function (u, min, max) { return [0, max * 1.08 || 1]; } } };
        opts.axes = [{ label: "value" }, { label: "density", size: 60 }];
      } else {
        // Grouped bars: each category gets one x per series, side by side,
        // and each series has values only at its own x.
        var n = c.x.length, groups = c.series.length, gap = 0.8 / groups, xs = [], cols = [];
        for (var g = 0; g < groups; g++) { cols.push([]); }
        for (var i = 0; i < n; i++) {
          for (var g2 = 0; g2 < groups; g2++) {
            xs.push(i - 0.4 + gap * (g2 + 0.5));
            for (var g3 = 0; g3 < groups; g3++) { cols[g3].push(g3 === g2 ? c.series[g3][i] : null); }
          }
        }
        data = [xs].concat(cols);
        var bars = uPlot.paths.bars({ size: [0.9, 60] });
        c.series.forEach(function (s, i) {
          series.push({ label: c.names[i], stroke: colors[i], fill: fills[i], width: 1, paths: bars, points: { show: false },
            value: function (u, v) { return v == null ? "–" : (100 * v).toFixed(1) + "%"; } });
        });
        opts.scales = { x: { time: false, range: [-0.6, n - 0.4] }, y: { range: function (u, min, max) { return [0, max * 1.1 || 1]; } } };
        opts.axes = [{ splits: function () { return c.x; }, values: function (u, splits) { return splits.map(function (x) { return c.labels[x] == null ? "" : c.labels[x]; }); }, grid: { show: false } },
          { label: "share", size: 60, values: function (u, splits) { return splits.map(function (v) { return (100 * v).toFixed(0) + "%"; }); } }];
      }
      new uPlot(opts, data, el);
      if (!el.querySelector("canvas")) { throw new Error("no canvas"); }
      el.setAttribute("data-rendered", "1");
      rendered++;
    } catch (e) { fail((c ? c.name : "chart " + k) + ": " + e); }
  });
  document.body.setAttribute("data-charts-rendered", String(rendered));
})();
</script>
</body>
</html>
`
