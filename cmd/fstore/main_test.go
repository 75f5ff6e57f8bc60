package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstore/fstore/examples/rides"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

type result struct {
	code           int
	stdout, stderr string
}

// fstore runs one command line in process.
func fstore(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := fstore(t, args...)
	if r.code != 0 {
		t.Fatalf("fstore %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// writeExample writes the example definitions and a small generated data
// set beside them (apply reads the Parquet schemas) and returns the
// definitions file's path.
func writeExample(t *testing.T, dir string, edit func(string) string) string {
	t.Helper()
	return writeExampleAs(t, dir, "definitions.textproto", edit)
}

// writeExampleAs writes the example under another name. Relative Parquet
// paths resolve against the file's directory, so a modified copy in the
// same directory differs only by the edit.
func writeExampleAs(t *testing.T, dir, name string, edit func(string) string) string {
	t.Helper()
	text := string(rides.Definitions)
	if edit != nil {
		text = edit(text)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		if _, err := rides.Generate(filepath.Join(dir, "data"), rides.Config{Drivers: 10, Riders: 20, Days: 2, SpineRows: 50}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestApplyPlanHistoryDescribe(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	defs := writeExample(t, tmp, nil)

	r := mustRun(t, data, "apply", "-f", defs, "--description", "first")
	if !strings.Contains(r.stdout, "+ feature_view driver_hourly") || !strings.Contains(r.stdout, "applied registry version 1 (14 objects") {
		t.Fatalf("apply output:\n%s", r.stdout)
	}
	r = mustRun(t, data, "apply", "-f", defs)
	if strings.TrimSpace(r.stdout) != "no changes: registry is at version 1" {
		t.Fatalf("re-apply output:\n%s", r.stdout)
	}

	// A modified copy: a type change and a removed served feature.
	mod := writeExampleAs(t, tmp, "modified.textproto", func(s string) string {
		s = strings.Replace(s, `features { name: "avg_daily_trips" type: INT64 }`, `features { name: "avg_daily_trips" type: DOUBLE }`, 1)
		return strings.Replace(s, `ttl { seconds: 2592000 }`, `ttl { seconds: 604800 }`, 1)
	})
	r = mustRun(t, data, "plan", "-f", mod)
	for _, want := range []string{
		"~ feature_view driver_hourly  (BREAKING)",
		`BREAKING: feature "avg_daily_trips" changes type from INT64 to DOUBLE`,
		"features[avg_daily_trips].type: INT64 → DOUBLE",
		"~ feature_view rider_profile\n    ttl: 30d → 7d",
		"2 changes against registry version 1, 1 BREAKING: apply needs --allow-breaking",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = fstore(t, data, "apply", "-f", mod)
	if r.code != 1 || !strings.Contains(r.stderr, "refusing breaking changes (apply with --allow-breaking to accept them)") {
		t.Fatalf("breaking apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustRun(t, data, "apply", "-f", mod, "--allow-breaking", "--description", "double trips")

	r = mustRun(t, data, "history")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "2 ") || !strings.Contains(lines[1], "+0 ~2 -0 (1 breaking)") || !strings.Contains(lines[1], "double trips") || !strings.HasPrefix(lines[2], "1 ") {
		t.Fatalf("history:\n%s", r.stdout)
	}

	r = mustRun(t, data, "describe", "feature_view", "driver_hourly", "--version", "1")
	if !strings.Contains(r.stdout, "name: \"avg_daily_trips\"\n  type: INT64") {
		t.Fatalf("describe at version 1:\n%s", r.stdout)
	}
	r = mustRun(t, data, "describe", "feature-views", "driver_hourly", "-o", "json")
	var got struct {
		Version string `json:"version"`
		Object  struct {
			FeatureView struct {
				Features []struct{ Name, Type string }
			} `json:"feature_view"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("describe -o json is not JSON: %v\n%s", err, r.stdout)
	}
	if got.Version != "2" || got.Object.FeatureView.Features[2].Type != "VALUE_TYPE_DOUBLE" {
		t.Fatalf("describe -o json: %+v", got)
	}

	r = mustRun(t, data, "list", "entities")
	if !strings.Contains(r.stdout, "driver") || !strings.Contains(r.stdout, "rider") || strings.Contains(r.stdout, "feature_view") {
		t.Fatalf("list entities:\n%s", r.stdout)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	typo := writeExample(t, tmp, func(s string) string {
		return strings.Replace(s, `source: "driver_stats"`, `source: "driver_stat"`, 1)
	})
	r := fstore(t, data, "apply", "-f", typo)
	want := typo + `:62: feature_view "driver_hourly": source: unknown source "driver_stat" (did you mean "driver_stats"?)`
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("typo: exit %d, stderr:\n%s\nwant it to contain:\n%s", r.code, r.stderr, want)
	}
	// Nothing was written.
	r = mustRun(t, data, "history")
	if !strings.Contains(r.stdout, "no versions") {
		t.Fatalf("a failed apply wrote a version:\n%s", r.stdout)
	}

	// An expression with a typo in a column name: the message points at the
	// name, in its expression, and offers the close column names.
	badExpr := writeExampleAs(t, tmp, "bad_expr.textproto", func(s string) string {
		return strings.Replace(s, `features { name: "conv_rate" type: DOUBLE expr: "conv_rate" }`, `features { name: "conv_rate" type: DOUBLE expr: "log(driver_nam)" }`, 1)
	})
	r = fstore(t, data, "apply", "-f", badExpr)
	want = badExpr + `:62: feature_view "driver_hourly": features[0].expr: column 5 of "log(driver_nam)": unknown column "driver_nam" (did you mean "driver_id"?)`
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("bad expression: exit %d, stderr:\n%s\nwant it to contain:\n%s", r.code, r.stderr, want)
	}

	syntax := filepath.Join(tmp, "bad.textproto")
	os.WriteFile(syntax, []byte("entities {\n  name: \"x\"\n  joinkeys { }\n}\n"), 0o644)
	r = fstore(t, data, "plan", "-f", syntax)
	if r.code != 1 || !strings.Contains(r.stderr, syntax+`:3:3: unknown field "joinkeys" (did you mean "join_keys"?)`) {
		t.Fatalf("syntax error: exit %d\n%s", r.code, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"list", "feature_viewz"}, 2, `unknown kind "feature_viewz"`},
		{[]string{"describe", "entity"}, 2, "want KIND NAME, got 1 arguments"},
		{[]string{"apply"}, 2, "no definitions given"},
		{[]string{"list", "-o", "yaml"}, 2, `--output "yaml": want table or json`},
		{[]string{"apply", "-f", filepath.Join(tmp, "missing.textproto")}, 1, "missing.textproto: no such file or directory"},
		{[]string{"describe", "entity", "nobody"}, 1, `no entity "nobody" in version 0`},
		{[]string{"--bogus"}, 2, "unknown flag: --bogus"},
	} {
		r := fstore(t, append([]string{data}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("fstore %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
}

func TestQuickstart(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	r := mustRun(t, data, "quickstart", "--dir", filepath.Join(tmp, "qs"))
	for _, want := range []string{"applied registry version 1 (14 objects)", "trip_completion", "# feature_service trip_completion", "+14 ~0 -0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("quickstart output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, f := range []string{"definitions.textproto", "data/driver_stats.parquet", "data/trips.parquet", "data/riders.parquet", "data/spine.parquet"} {
		if _, err := os.Stat(filepath.Join(tmp, "qs", f)); err != nil {
			t.Error(err)
		}
	}
	r = mustRun(t, data, "-q", "quickstart", "--dir", filepath.Join(tmp, "qs"))
	if !strings.Contains(r.stdout, "registry already at version 1") || r.stderr != "" {
		t.Fatalf("second quickstart: stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeHotReload runs `fstore serve`, applies with the plain CLI (which
// finds the data directory locked and sends the apply to the server), and
// reads the new version over REST without restarting anything.
func TestServeHotReload(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	defs := writeExample(t, tmp, nil)
	mustRun(t, data, "apply", "-f", defs)

	httpAddr, grpcAddr := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(ctx, []string{data, "serve", "--http", httpAddr, "--grpc", grpcAddr, "--log-format", "json"}, &out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	defer func() {
		cancel()
		select {
		case r := <-done:
			if r.code != 0 {
				t.Errorf("serve exited %d: %s", r.code, r.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	base := "http://" + httpAddr
	waitReady(t, base+"/readyz", done)

	mod := writeExampleAs(t, tmp, "modified.textproto", func(s string) string {
		return strings.Replace(s, `description: "Latest hourly statistics of a driver."`, `description: "hot reloaded"`, 1)
	})
	r := mustRun(t, data, "apply", "-f", mod)
	if !strings.Contains(r.stderr, "is in use by fstore serve; sending the command to it at "+grpcAddr) || !strings.Contains(r.stdout, "applied registry version 2") {
		t.Fatalf("apply while serving:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	body := get(t, base+"/v1/registry/feature_views/driver_hourly")
	if !strings.Contains(body, `"description":"hot reloaded"`) && !strings.Contains(body, `"description": "hot reloaded"`) {
		t.Fatalf("REST does not show the new version: %s", body)
	}
	// A backfill while the server holds the data directory reads the
	// registry through it.
	out := filepath.Join(tmp, "served.parquet")
	r = mustRun(t, data, "backfill", "--service", "driver_ranking", "--spine", filepath.Join(tmp, "data", "spine.parquet"), "--out", out)
	if !strings.Contains(r.stdout, "50 rows × 7 features") || !strings.Contains(r.stderr, "sending the command to it") {
		t.Fatalf("backfill while serving: %s%s", r.stdout, r.stderr)
	}
	// --server works explicitly too.
	r = mustRun(t, "--server", grpcAddr, "history")
	if !strings.HasPrefix(strings.Split(r.stdout, "\n")[1], "2 ") {
		t.Fatalf("history over --server:\n%s", r.stdout)
	}
}

func waitReady(t *testing.T, url string, done chan result) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case r := <-done:
			t.Fatalf("serve exited early (%d): %s", r.code, r.stderr)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server not ready in 20s")
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestBackfillCommand(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	defs := writeExample(t, tmp, nil)
	mustRun(t, data, "apply", "-f", defs)
	out := filepath.Join(tmp, "train.parquet")
	r := mustRun(t, data, "backfill", "--service", "trip_completion", "--spine", filepath.Join(tmp, "data", "spine.parquet"), "--out", out, "--workers", "2", "--memory-limit", "64MiB", "--ttl-override", "2d")
	if !strings.HasPrefix(r.stdout, "backfill: 50 rows × 16 features → "+out+" in ") {
		t.Fatalf("summary: %q", r.stdout)
	}
	for _, f := range []string{out, out + ".profile.json"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	r = mustRun(t, data, "backfill", "--features", "driver_hourly:conv_rate,trip_request:*", "--spine", filepath.Join(tmp, "data", "spine.parquet"), "--out", out)
	if !strings.Contains(r.stdout, "50 rows × 4 features") {
		t.Fatalf("summary: %q", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"backfill", "--spine", "x", "--out", "y"}, 2, "want --service NAME or --features REF"},
		{[]string{"backfill", "--service", "s", "--features", "a:b", "--spine", "x", "--out", "y"}, 2, "want --service NAME or --features REF"},
		{[]string{"backfill", "--service", "trip_completion", "--spine", "x", "--out", "y", "--memory-limit", "lots"}, 2, `--memory-limit "lots": want a size like 512MiB or 1GiB`},
		{[]string{"backfill", "--service", "trip_completion", "--spine", "x", "--out", "y", "--ttl-override", "soon"}, 2, `--ttl-override "soon": want a duration like 36h or 7d`},
		{[]string{"backfill", "--service", "trip_complete", "--spine", "x", "--out", "y"}, 1, `unknown feature service "trip_complete" (did you mean "trip_completion"?)`},
	} {
		r := fstore(t, append([]string{data}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("fstore %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
}

func TestParseSizeAndDuration(t *testing.T) {
	for in, want := range map[string]int64{"512MiB": 512 << 20, "1GiB": 1 << 30, "1G": 1 << 30, "300MB": 300e6, "1048576": 1 << 20, "1.5GiB": 3 << 29} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]time.Duration{"36h": 36 * time.Hour, "7d": 7 * 24 * time.Hour, "0": 0, "1.5d": 36 * time.Hour} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1h", "x", "1y"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
}

func TestOnlineCommands(t *testing.T) {
	tmp := t.TempDir()
	data := "--data-dir=" + filepath.Join(tmp, "data")
	defs := writeExample(t, tmp, nil)
	mustRun(t, data, "apply", "-f", defs)
	r := mustRun(t, data, "list", "views")
	if !strings.Contains(r.stdout, "driver_hourly  yes     never") {
		t.Fatalf("list views before materializing:\n%s", r.stdout)
	}
	end := "--end=" + rides.DefaultEnd.Format(time.RFC3339)
	r = mustRun(t, data, "materialize", end)
	for _, want := range []string{"driver_hourly: full (-∞, 2026-01-08T00:00:00Z]", "driver_trips: full", "rider_profile: full", "rider_trips: full"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("materialize output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustRun(t, data, "materialize", end, "--views", "driver_hourly")
	if strings.TrimSpace(r.stdout) != "driver_hourly: up to date through 2026-01-08T00:00:00Z" {
		t.Fatalf("rerun: %q", r.stdout)
	}
	r = mustRun(t, data, "list", "views")
	if !strings.Contains(r.stdout, "driver_hourly  yes     2026-01-08T00:00:00Z") {
		t.Fatalf("list views after materializing:\n%s", r.stdout)
	}
	r = mustRun(t, data, "read", "driver_hourly", "1001", "424242", "--at", "2026-01-08")
	if !regexp.MustCompile(`1001\s+conv_rate\s+\S+\s+PRESENT\s+2026-01-07T2\d:00:00Z`).MatchString(r.stdout) ||
		!regexp.MustCompile(`424242\s+rating\s+null\s+NOT_FOUND`).MatchString(r.stdout) {
		t.Fatalf("read:\n%s", r.stdout)
	}

	// Push two completed trips for a new driver: its windows count them.
	events := filepath.Join(tmp, "trips.jsonl")
	os.WriteFile(events, []byte(`{"trip_id": 1, "driver_id": 77, "rider_id": 1, "event_ts": "2026-01-08T01:00:00Z", "fare": 10, "tip": 1, "distance_km": 3, "duration_s": 600, "completed": true, "payment_type": "card"}
{"trip_id": 2, "driver_id": 77, "rider_id": 2, "event_ts": "2026-01-08T01:30:00Z", "fare": 20, "tip": 0, "distance_km": 5, "duration_s": 900, "completed": true, "payment_type": "cash"}
`), 0o644)
	r = mustRun(t, data, "push", "--view", "driver_trips", events)
	if !strings.Contains(r.stdout, "driver_trips: pushed 2 events (2 passed the filter) for 1 entities; latest event 2026-01-08T01:30:00Z") {
		t.Fatalf("push: %q", r.stdout)
	}
	r = mustRun(t, data, "read", "driver_trips", "77", "--at", "2026-01-08T02:00:00Z")
	if !regexp.MustCompile(`77\s+trips_24h\s+2\s+PRESENT`).MatchString(r.stdout) || !regexp.MustCompile(`77\s+fare_sum_24h\s+30\s+PRESENT`).MatchString(r.stdout) {
		t.Fatalf("read after push:\n%s", r.stdout)
	}
	r = mustRun(t, data, "list", "views")
	if !strings.Contains(r.stdout, "2026-01-08T01:30:00Z") {
		t.Fatalf("list views after push:\n%s", r.stdout)
	}

	bad := filepath.Join(tmp, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"trip_id": 3, "driver_id": "x", "event_ts": "2026-01-08T01:00:00Z"}`+"\n"), 0o644)
	future := filepath.Join(tmp, "future.jsonl")
	os.WriteFile(future, []byte(`{"trip_id": 3, "driver_id": 78, "event_ts": "9999-01-01T00:00:00Z", "completed": true}`+"\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"push", "--view", "driver_trips", bad}, 1, `line 1: field "driver_id": want INT64, got "x"`},
		{[]string{"push", "--view", "driver_hourly", events}, 1, `view "driver_hourly" does not read a push source`},
		{[]string{"push", events}, 2, "want --view V"},
		{[]string{"push", "--view", "driver_trips", future}, 1, `events[0].event_ts: 9999-01-01T00:00:00Z is more than 1h in the future (--max-future)`},
		{[]string{"push", "--view", "driver_trips", "--max-future", "48h", future}, 1, `9999-01-01T00:00:00Z is more than 48h in the future (--max-future)`},
		{[]string{"materialize", "--views", "driver_hourli"}, 1, `unknown feature view "driver_hourli" (did you mean "driver_hourly"?)`},
		{[]string{"materialize", "--end", "tomorrow"}, 2, `--end "tomorrow": want RFC 3339`},
		{[]string{"materialize", "--store", "redis://127.0.0.1:1/0"}, 1, "cannot reach redis at 127.0.0.1:1"},
		{[]string{"materialize", "--store", "memcached://x"}, 1, `online store "memcached://x": want pebble, redis://`},
		{[]string{"read", "driver_hourly", "abc"}, 2, `entity "abc": driver_id is INT64, not "abc"`},
	} {
		r := fstore(t, append([]string{data}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("fstore %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
}
