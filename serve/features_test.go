package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/internal/redistest"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// featureEnv is a running server over the ride-hailing example,
// materialised as of rides.DefaultEnd and serving at that time.
type featureEnv struct {
	*testServer
	online featurestore.OnlineStore
	now    time.Time
	data   string
	serve  fstorev1.ServingServiceClient
}

// exampleDefs writes the small example into a temporary directory and
// compiles its definitions.
func exampleDefs(t testing.TB) (*def.Definitions, string) {
	t.Helper()
	data := t.TempDir()
	if _, err := rides.Write(data, rides.Config{Drivers: 10, Riders: 20, Days: 2, SpineRows: 10}); err != nil {
		t.Fatal(err)
	}
	p, origins, err := registry.LoadFiles([]string{data})
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.Compile(p, origins, compute.NewChecker())
	if err != nil {
		t.Fatal(err)
	}
	return d, data
}

// loadExample applies the example to st and materialises it into online.
func loadExample(t testing.TB, st *featurestore.Store, online featurestore.OnlineStore, d *def.Definitions) {
	t.Helper()
	res, err := st.Registry().Apply(d, registry.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := featurestore.Materialize(context.Background(), res.Snapshot.Index, online, featurestore.MaterializeOptions{End: rides.DefaultEnd, Full: true}); err != nil {
		t.Fatal(err)
	}
}

// startFeatures starts a server over the example on the store at url
// ("" for the embedded Pebble store).
func startFeatures(t *testing.T, url string) *featureEnv {
	t.Helper()
	d, data := exampleDefs(t)
	env := &featureEnv{now: rides.DefaultEnd, data: data}
	env.testServer = startServerWith(t, func(st *featurestore.Store, cfg *Config) {
		online := featurestore.OnlineStore(st.Online())
		if url != "" {
			var err error
			if online, err = st.OpenOnline(url, featurestore.StoreTimeouts{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { online.Close() })
		}
		loadExample(t, st, online, d)
		env.online = online
		cfg.Online = online
		cfg.Now = func() time.Time { return env.now }
	})
	env.serve = fstorev1.NewServingServiceClient(env.conn)
	return env
}

// stores runs f against the embedded store, a Redis node and a 3-node
// Redis Cluster.
func stores(t *testing.T, f func(t *testing.T, url string)) {
	t.Run("store=pebble", func(t *testing.T) { f(t, "") })
	t.Run("store=redis", func(t *testing.T) { f(t, redistest.StartServer(t)) })
	t.Run("store=redis-cluster", func(t *testing.T) { f(t, redistest.StartCluster(t, 3)) })
}

// feastResponse is Feast's get-online-features response.
type feastResponse struct {
	Metadata struct {
		FeatureNames []string `json:"feature_names"`
	} `json:"metadata"`
	Results []struct {
		Values          []any    `json:"values"`
		Statuses        []string `json:"statuses"`
		EventTimestamps []string `json:"event_timestamps"`
	} `json:"results"`
}

func post(t testing.TB, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST %s: Content-Type %q", url, ct)
	}
	return resp.StatusCode, b
}

func (env *featureEnv) get(t testing.TB, body string) feastResponse {
	t.Helper()
	code, b := post(t, env.httpURL+"/get-online-features", body)
	if code != 200 {
		t.Fatalf("status %d: %s\nrequest: %s", code, b, body)
	}
	if !json.Valid(b) {
		t.Fatalf("response is not JSON: %s", b)
	}
	var r feastResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// expected reads view:feature for the driver ids directly through
// featurestore.Read, the function the server is built on, and returns what
// the response column should hold.
func (env *featureEnv) expected(t testing.TB, view, feature string, keyName string, ids []any) (vals []any, statuses, times []string) {
	t.Helper()
	snap := env.store.Registry().Latest()
	ov, err := featurestore.CompileOnline(snap.Index, snap.Index.FeatureView(view))
	if err != nil {
		t.Fatal(err)
	}
	var key compute.Column
	key.ResetBitmap(def.Int64, len(ids), false)
	for i, id := range ids {
		if id == nil {
			key.Valid.Clear(i)
		} else {
			key.I64[i] = int64(id.(int))
		}
	}
	var r featurestore.ReadResult
	if err := featurestore.Read(context.Background(), env.online, ov, []*compute.Column{&key}, len(ids), env.now.UnixMicro(), &r); err != nil {
		t.Fatal(err)
	}
	o := -1
	for i, f := range ov.Outputs {
		if f.Name == feature {
			o = i
		}
	}
	for i := range ids {
		var v any
		if c := &r.Values[o]; !c.Null(i) {
			switch c.Type {
			case def.Int64:
				v = float64(c.I64[i])
			case def.Double:
				v = c.F64[i]
			default:
				t.Fatalf("type %s not covered", c.Type)
			}
		}
		vals = append(vals, v)
		statuses = append(statuses, r.Status[o][i].String())
		ts := "1970-01-01T00:00:00Z"
		if r.EventTS[i] != 0 {
			ts = time.UnixMicro(r.EventTS[i]).UTC().Format(time.RFC3339Nano)
		}
		times = append(times, ts)
	}
	return vals, statuses, times
}

func TestGetOnlineFeaturesFeastShape(t *testing.T) {
	stores(t, func(t *testing.T, url string) {
		env := startFeatures(t, url)
		ids := []any{1001, 1002, 999999, nil, 1001}
		idsJSON, _ := json.Marshal(ids)
		refs := []string{"driver_hourly:conv_rate", "driver_hourly:avg_daily_trips", "driver_hourly:trips_1h", "driver_trips:trips_24h", "driver_trips:fare_max_24h"}
		refsJSON, _ := json.Marshal(refs)
		for _, full := range []bool{false, true} {
			r := env.get(t, fmt.Sprintf(`{"features":%s,"entities":{"driver_id":%s},"full_feature_names":%v}`, refsJSON, idsJSON, full))
			wantNames := []string{"driver_id"}
			for _, ref := range refs {
				view, feat, _ := strings.Cut(ref, ":")
				if full {
					wantNames = append(wantNames, view+"__"+feat)
				} else {
					wantNames = append(wantNames, feat)
				}
			}
			if fmt.Sprint(r.Metadata.FeatureNames) != fmt.Sprint(wantNames) {
				t.Fatalf("feature_names = %v, want %v", r.Metadata.FeatureNames, wantNames)
			}
			if len(r.Results) != len(wantNames) {
				t.Fatalf("%d results, want %d", len(r.Results), len(wantNames))
			}
			// The entity column echoes the keys, PRESENT at the epoch (as
			// Feast answers; a null key is NULL_VALUE).
			e := r.Results[0]
			for i, id := range ids {
				var want any
				wantStatus := "NULL_VALUE"
				if id != nil {
					want, wantStatus = float64(id.(int)), "PRESENT"
				}
				if e.Values[i] != want || e.Statuses[i] != wantStatus || e.EventTimestamps[i] != "1970-01-01T00:00:00Z" {
					t.Fatalf("entity column row %d = %v %s %s", i, e.Values[i], e.Statuses[i], e.EventTimestamps[i])
				}
			}
			present := 0
			for k, ref := range refs {
				view, feat, _ := strings.Cut(ref, ":")
				vals, sts, times := env.expected(t, view, feat, "driver_id", ids)
				got := r.Results[k+1]
				if fmt.Sprint(got.Values) != fmt.Sprint(vals) || fmt.Sprint(got.Statuses) != fmt.Sprint(sts) || fmt.Sprint(got.EventTimestamps) != fmt.Sprint(times) {
					t.Fatalf("%s:\n got  %v %v %v\n want %v %v %v", ref, got.Values, got.Statuses, got.EventTimestamps, vals, sts, times)
				}
				for _, s := range sts {
					if s == "PRESENT" {
						present++
					}
				}
			}
			if present == 0 {
				t.Fatal("no value is PRESENT: the test reads nothing")
			}
		}
	})
}

func TestGetOnlineFeaturesServiceAndOnDemand(t *testing.T) {
	env := startFeatures(t, "")
	r := env.get(t, `{"feature_service":"trip_completion","full_feature_names":true,
		"entities":{"driver_id":[1001,1002],"rider_id":[1,2]},
		"request_context":{"distance_km":[3.5,25],"surge":[1.5,null]}}`)
	col := map[string]int{}
	for i, n := range r.Metadata.FeatureNames {
		col[n] = i
	}
	for _, n := range []string{"driver_id", "rider_id", "driver_hourly__conv_rate", "trip_request__est_fare", "trip_request__long_trip", "trip_request__conv_x_surge"} {
		if _, ok := col[n]; !ok {
			t.Fatalf("no column %q in %v", n, r.Metadata.FeatureNames)
		}
	}
	if r.Metadata.FeatureNames[0] != "driver_id" || r.Metadata.FeatureNames[1] != "rider_id" {
		t.Fatalf("entity columns not first, in request order: %v", r.Metadata.FeatureNames)
	}
	fare := r.Results[col["trip_request__est_fare"]]
	if want := (2.5 + 1.2*3.5) * 1.5; fare.Values[0] != want || fare.Statuses[0] != "PRESENT" {
		t.Fatalf("est_fare[0] = %v %s, want %v", fare.Values[0], fare.Statuses[0], want)
	}
	if fare.Values[1] != nil || fare.Statuses[1] != "NULL_VALUE" {
		t.Fatalf("est_fare with a null surge = %v %s", fare.Values[1], fare.Statuses[1])
	}
	long := r.Results[col["trip_request__long_trip"]]
	if long.Values[0] != false || long.Values[1] != true {
		t.Fatalf("long_trip = %v", long.Values)
	}
	conv := r.Results[col["driver_hourly__conv_rate"]]
	cx := r.Results[col["trip_request__conv_x_surge"]]
	// The input must be a real value, or coalesce's 0 would pass for any
	// wiring of the on-demand view's inputs.
	c0, ok := conv.Values[0].(float64)
	if !ok || conv.Statuses[0] != "PRESENT" || c0 == 0 {
		t.Fatalf("conv_rate[0] = %v %s: the test needs a present, non-zero input", conv.Values[0], conv.Statuses[0])
	}
	if want := c0 * 1.5; cx.Values[0] != want {
		t.Fatalf("conv_x_surge[0] = %v, want %v (conv_rate %v)", cx.Values[0], want, conv.Values[0])
	}
}

func TestGetOnlineFeaturesErrors(t *testing.T) {
	env := startFeatures(t, "")
	f := `"features":["driver_hourly:conv_rate"]`
	cases := []struct {
		name, body string
		code       int
		want       string
	}{
		{"malformed", `{"features":["driver_hourly:conv_rate"],"entities":{"driver_id":[1,}}`, 400, "malformed JSON at byte 68"},
		{"empty body", ``, 400, "malformed JSON"},
		{"not an object", `[1]`, 400, "want a JSON object"},
		{"unknown field", `{` + f + `,"entitys":{}}`, 400, `unknown field "entitys"`},
		{"no features", `{"entities":{"driver_id":[1]}}`, 400, "no features requested"},
		{"both", `{` + f + `,"feature_service":"driver_ranking","entities":{"driver_id":[1]}}`, 400, "not both"},
		{"bad ref", `{"features":["conv_rate"],"entities":{"driver_id":[1]}}`, 400, `features[0]: feature reference "conv_rate": want "view:feature"`},
		{"unknown view", `{"features":["driver_hourli:conv_rate"],"entities":{"driver_id":[1]}}`, 400, `unknown feature view "driver_hourli" (did you mean "driver_hourly"?)`},
		{"unknown feature", `{"features":["driver_hourly:conv_rat"],"entities":{"driver_id":[1]}}`, 400, `has no feature "conv_rat" (did you mean "conv_rate"?)`},
		{"twice", `{"features":["driver_hourly:conv_rate","driver_hourly:*"],"entities":{"driver_id":[1]}}`, 400, "requested twice"},
		{"features not strings", `{"features":[1],"entities":{"driver_id":[1]}}`, 400, "features[0]: want"},
		{"wrong key type", `{` + f + `,"entities":{"driver_id":[1,"x"]}}`, 400, `entities.driver_id[1]: want INT64, got "x"`},
		{"float key", `{` + f + `,"entities":{"driver_id":[1.5]}}`, 400, `entities.driver_id[0]: want INT64, got 1.5`},
		{"missing key", `{` + f + `,"entities":{"rider_id":[1]}}`, 400, `missing join key "driver_id"`},
		{"no entities", `{` + f + `}`, 400, "no entities"},
		{"extra entity", `{` + f + `,"entities":{"driver_id":[1],"driverid":[1]}}`, 400, `"driverid" is not a join key`},
		{"lengths", `{"features":["driver_hourly:conv_rate","rider_profile:*"],"entities":{"driver_id":[1,2],"rider_id":[1]}}`, 400, "every entity column must have the same length"},
		{"entities not arrays", `{` + f + `,"entities":{"driver_id":1}}`, 400, "entities.driver_id: want an array"},
		{"full names type", `{` + f + `,"entities":{"driver_id":[1]},"full_feature_names":"yes"}`, 400, "full_feature_names: want true or false"},
		{"request field missing", `{"feature_service":"trip_completion","entities":{"driver_id":[1],"rider_id":[1]}}`, 400, `request_context: missing field "distance_km"`},
		{"request field type", `{"features":["trip_request:est_fare"],"entities":{"driver_id":[1]},"request_context":{"distance_km":["far"],"surge":[1]}}`, 400, `request_context.distance_km[0]: want DOUBLE`},
		{"unknown service", `{"feature_service":"driver_rankin","entities":{"driver_id":[1]}}`, 404, `unknown feature service "driver_rankin" (did you mean "driver_ranking"?)`},
		{"too many entities", `{` + f + `,"entities":{"driver_id":[` + strings.Repeat("1,", 10_000) + `1]}}`, 400, "more than the limit of 10000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, b := post(t, env.httpURL+"/get-online-features", c.body)
			var e struct{ Error string }
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("error body is not JSON: %s", b)
			}
			if code != c.code || !strings.Contains(e.Error, c.want) {
				t.Fatalf("got %d %q\nwant %d, containing %q", code, e.Error, c.code, c.want)
			}
		})
	}
	resp, err := http.Get(env.httpURL + "/get-online-features")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("GET /get-online-features = %d, want 405", resp.StatusCode)
	}
}

func TestGRPCMatchesHTTP(t *testing.T) {
	env := startFeatures(t, "")
	ctx := context.Background()
	refs := []string{"driver_hourly:conv_rate", "driver_hourly:avg_daily_trips", "driver_trips:trips_24h", "driver_trips:fare_max_24h"}
	ids := []int64{1001, 1003, 4242}
	req := &fstorev1.GetOnlineFeaturesRequest{
		Kind:     &fstorev1.GetOnlineFeaturesRequest_Features{Features: &fstorev1.FeatureList{Val: refs}},
		Entities: map[string]*fstorev1.RepeatedValue{"driver_id": {}},
	}
	for _, id := range ids {
		req.Entities["driver_id"].Val = append(req.Entities["driver_id"].Val, &fstorev1.Value{Kind: &fstorev1.Value_Int64Val{Int64Val: id}})
	}
	resp, err := env.serve.GetOnlineFeatures(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	refsJSON, _ := json.Marshal(refs)
	idsJSON, _ := json.Marshal(ids)
	h := env.get(t, fmt.Sprintf(`{"features":%s,"entities":{"driver_id":%s}}`, refsJSON, idsJSON))
	if fmt.Sprint(resp.Metadata.FeatureNames.Val) != fmt.Sprint(h.Metadata.FeatureNames) {
		t.Fatalf("names: gRPC %v, HTTP %v", resp.Metadata.FeatureNames.Val, h.Metadata.FeatureNames)
	}
	if resp.Metadata.RegistryVersion != 1 {
		t.Fatalf("registry_version = %d", resp.Metadata.RegistryVersion)
	}
	for c, col := range resp.Results {
		for i, v := range col.Values {
			var got any
			switch k := v.Kind.(type) {
			case *fstorev1.Value_DoubleVal:
				got = k.DoubleVal
			case *fstorev1.Value_Int64Val:
				got = float64(k.Int64Val)
			}
			hs := h.Results[c]
			st := strings.TrimPrefix(col.Statuses[i].String(), "FIELD_STATUS_")
			ts := col.EventTimestamps[i].AsTime().Format(time.RFC3339Nano)
			if got != hs.Values[i] || st != hs.Statuses[i] || ts != hs.EventTimestamps[i] {
				t.Fatalf("column %d row %d: gRPC %v %s %s, HTTP %v %s %s", c, i, got, st, ts, hs.Values[i], hs.Statuses[i], hs.EventTimestamps[i])
			}
		}
	}
	// Errors carry the same codes.
	bad := &fstorev1.GetOnlineFeaturesRequest{Kind: &fstorev1.GetOnlineFeaturesRequest_FeatureService{FeatureService: "nope"}}
	if _, err := env.serve.GetOnlineFeatures(ctx, bad); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service over gRPC: %v", err)
	}
	bad = &fstorev1.GetOnlineFeaturesRequest{
		Kind:     &fstorev1.GetOnlineFeaturesRequest_Features{Features: &fstorev1.FeatureList{Val: refs}},
		Entities: map[string]*fstorev1.RepeatedValue{"driver_id": {Val: []*fstorev1.Value{{Kind: &fstorev1.Value_StringVal{StringVal: "x"}}}}},
	}
	if _, err := env.serve.GetOnlineFeatures(ctx, bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "entities.driver_id[0]: want INT64, got string_val") {
		t.Fatalf("wrong key type over gRPC: %v", err)
	}
}

func TestPush(t *testing.T) {
	stores(t, func(t *testing.T, url string) {
		env := startFeatures(t, url)
		ctx := context.Background()
		read := func() (float64, string) {
			r := env.get(t, `{"features":["driver_trips:trips_24h","driver_trips:fare_sum_24h"],"entities":{"driver_id":[1001]}}`)
			n, _ := r.Results[1].Values[0].(float64)
			return n, r.Results[2].Statuses[0]
		}
		before, _ := read()
		ts := env.now.Add(-time.Minute).Format("2006-01-02 15:04:05")
		code, b := post(t, env.httpURL+"/push", `{"push_source_name":"trips_live","to":"online","df":{
			"trip_id":[1,2],"driver_id":[1001,1001],"rider_id":[1,2],"event_ts":["`+ts+`","`+ts+`"],
			"fare":[10.5,4],"tip":[1,0],"distance_km":[3,1],"duration_s":[600,300],"completed":[true,true],"payment_type":["card","cash"]}}`)
		if code != 200 {
			t.Fatalf("push: %d %s", code, b)
		}
		var pr struct {
			Events int
			Views  []struct {
				View              string
				Applied, Entities int
			}
		}
		if err := json.Unmarshal(b, &pr); err != nil || pr.Events != 2 || len(pr.Views) == 0 {
			t.Fatalf("push response %s (%v)", b, err)
		}
		after, _ := read()
		if after != before+2 {
			t.Fatalf("trips_24h %v after pushing 2 completed trips onto %v", after, before)
		}
		// Rows as objects, and gRPC.
		code, b = post(t, env.httpURL+"/push", `{"push_source_name":"trips_live","df":[{"trip_id":3,"driver_id":1001,"rider_id":1,"event_ts":"`+env.now.Add(-time.Second).Format(time.RFC3339)+`","fare":1,"completed":true}]}`)
		if code != 200 {
			t.Fatalf("row push: %d %s", code, b)
		}
		v := func(k *fstorev1.Value) *fstorev1.RepeatedValue {
			return &fstorev1.RepeatedValue{Val: []*fstorev1.Value{k}}
		}
		_, err := env.serve.Push(ctx, &fstorev1.PushRequest{PushSourceName: "trips_live", Columns: map[string]*fstorev1.RepeatedValue{
			"trip_id":   v(&fstorev1.Value{Kind: &fstorev1.Value_Int64Val{Int64Val: 4}}),
			"driver_id": v(&fstorev1.Value{Kind: &fstorev1.Value_Int64Val{Int64Val: 1001}}),
			"rider_id":  v(&fstorev1.Value{Kind: &fstorev1.Value_Int64Val{Int64Val: 1}}),
			"event_ts":  v(&fstorev1.Value{Kind: &fstorev1.Value_Int64Val{Int64Val: env.now.Add(-time.Second).UnixMicro()}}),
			"fare":      v(&fstorev1.Value{Kind: &fstorev1.Value_DoubleVal{DoubleVal: 2}}),
			"completed": v(&fstorev1.Value{Kind: &fstorev1.Value_BoolVal{BoolVal: true}}),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := read(); n != before+4 {
			t.Fatalf("trips_24h %v after 4 pushes onto %v", n, before)
		}
		// Bad pushes write nothing.
		for _, c := range []struct {
			body string
			code int
			want string
		}{
			{`{"push_source_name":"trips_live","df":{"driver_id":[1001,null],"event_ts":["` + ts + `","` + ts + `"],"completed":[true,true]}}`, 400, `event 2: join key "driver_id" is null`},
			{`{"push_source_name":"trips_live","df":{"driver_id":[1001],"event_ts":["yesterday"]}}`, 400, `df.event_ts[0]: want an RFC 3339 TIMESTAMP`},
			{`{"push_source_name":"trips_live","df":{"driver_id":[1001],"fare":["x"]}}`, 400, `df.fare[0]: want DOUBLE`},
			{`{"push_source_name":"trips_live","df":{"driver_id":[1001],"fares":[1]}}`, 400, `has no column "fares"`},
			{`{"push_source_name":"trips_live","df":{"driver_id":[1001,1002],"fare":[1]}}`, 400, `column "fare" has 1 values`},
			{`{"push_source_name":"trips_live","to":"offline","df":{}}`, 400, `fstore pushes into the online store only`},
			{`{"push_source_name":"trips","df":{}}`, 400, `not a push source`},
			{`{"push_source_name":"trip_live","df":{}}`, 404, `unknown push source "trip_live" (did you mean "trips_live"?)`},
			{`{"push_source_name":"trips_live","df":{"driver_id":[1001],`, 400, `malformed JSON at byte`},
		} {
			code, b := post(t, env.httpURL+"/push", c.body)
			var e struct{ Error string }
			if err := json.Unmarshal(b, &e); err != nil || code != c.code || !strings.Contains(e.Error, c.want) {
				t.Errorf("push %s\n got %d %s\n want %d containing %q", c.body, code, b, c.code, c.want)
			}
		}
		if n, _ := read(); n != before+4 {
			t.Fatalf("trips_24h %v after bad pushes, want %v", n, before+4)
		}
	})
}

func TestHotReload(t *testing.T) {
	env := startFeatures(t, "")
	ctx := context.Background()
	// Hammer the server while a new version adds a feature to a view.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	var firstFailure atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, b := post(t, env.httpURL+"/get-online-features", `{"feature_service":"driver_ranking","entities":{"driver_id":[1001,1002]}}`)
				requests.Add(1)
				if code != 200 {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", code, b))
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	p, _, err := registry.LoadFiles([]string{env.data})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range p.FeatureViews {
		if v.Name == "driver_hourly" {
			v.Features = append(v.Features, &fstorev1.Feature{Name: "rating_x2", Type: fstorev1.ValueType_VALUE_TYPE_DOUBLE, Expr: "rating * 2"})
		}
	}
	if _, err := env.client.Apply(ctx, &fstorev1.ApplyRequest{Definitions: p}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, b := post(t, env.httpURL+"/get-online-features", `{"features":["driver_hourly:rating_x2"],"entities":{"driver_id":[1001]}}`)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new feature not served 10s after apply: %d %s", code, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during the reload; first: %v", n, requests.Load(), firstFailure.Load())
	}
	if requests.Load() < 10 {
		t.Fatalf("only %d requests ran during the reload", requests.Load())
	}
}

func TestStoreUnavailable(t *testing.T) {
	url := redistest.StartServer(t)
	env := startFeatures(t, url)
	env.get(t, `{"features":["driver_hourly:conv_rate"],"entities":{"driver_id":[1001]}}`)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")
	host, port, _ := strings.Cut(addr, ":")
	if out, err := exec.Command("redis-cli", "-h", host, "-p", port, "shutdown", "nosave").CombinedOutput(); err != nil && !bytes.Contains(out, []byte("connect")) && len(out) > 0 {
		t.Logf("redis-cli shutdown: %v %s", err, out)
	}
	code, b := post(t, env.httpURL+"/get-online-features", `{"features":["driver_hourly:conv_rate"],"entities":{"driver_id":[1001]}}`)
	if code != 503 || !bytes.Contains(b, []byte("online store unavailable")) {
		t.Fatalf("read with Redis down: %d %s", code, b)
	}
}

func TestMetrics(t *testing.T) {
	env := startFeatures(t, "")
	env.get(t, `{"features":["driver_hourly:conv_rate"],"entities":{"driver_id":[1001,1002]}}`)
	post(t, env.httpURL+"/get-online-features", `{"features":["nope:x"],"entities":{"driver_id":[1]}}`)
	resp, err := http.Get(env.httpURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`fstore_request_duration_seconds_count{code="200",endpoint="/get-online-features"} 1`,
		`fstore_request_duration_seconds_count{code="400",endpoint="/get-online-features"} 1`,
		`fstore_request_entities_sum{endpoint="/get-online-features"} 2`,
		`fstore_request_features_sum{endpoint="/get-online-features"} 1`,
		`fstore_store_call_duration_seconds_count{op="read"} 1`,
		`fstore_errors_total{kind="bad_request"} 1`,
		`fstore_registry_version 1`,
		`fstore_view_materialized_lag_seconds{view="driver_hourly"}`,
		`go_goroutines`,
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", b)
	}
}

// TestMetricsClientCache checks that a Redis single node's client-side
// cache shows in /metrics: the second read of the same entity is a hit.
func TestMetricsClientCache(t *testing.T) {
	env := startFeatures(t, redistest.StartServer(t))
	req := `{"features":["driver_hourly:conv_rate"],"entities":{"driver_id":[1001]}}`
	var b []byte
	ok := false
	for range 100 { // the first reads after materialising may miss
		env.get(t, req)
		resp, err := http.Get(env.httpURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if ok = bytes.Contains(b, []byte(`fstore_store_client_cache_keys_total{result="hit"} `)) &&
			!bytes.Contains(b, []byte(`fstore_store_client_cache_keys_total{result="hit"} 0`)); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		"fstore_store_client_cache_live 1",
		`fstore_store_client_cache_keys_total{result="miss"}`,
		"fstore_store_client_cache_entries",
		"fstore_store_client_cache_invalidations_total",
		"fstore_store_client_cache_flushes_total",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !ok {
		t.Errorf("no client-side cache hit in /metrics after 100 reads of one entity")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", b)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "tab\tnl\nctl\x01\x1f", "ünïcødé ✓", "bad \xff utf8", "\u2028"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q → %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got != want {
			t.Fatalf("%q → %s → %q", s, b, got)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	floats := []float64{0, math.Copysign(0, -1), -1.5, 1e21, 1e-7, 1e-6, 123456789012345678, 0.1, 100, 1.5e20, -9.99e-5, math.MaxFloat64, 5e-324}
	for range 20000 {
		floats = append(floats, math.Float64frombits(r.Uint64()), r.Float64(), r.NormFloat64()*1e6, float64(r.IntN(1e6))/100)
	}
	for _, f := range floats {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		var c compute.Column
		c.Reset(def.Double, 1)
		c.F64[0] = f
		b := appendValue(nil, &c, 0)
		var got float64
		if err := json.Unmarshal(b, &got); err != nil || got != f || math.Signbit(got) != math.Signbit(f) {
			t.Fatalf("%v → %s → %v %v", f, b, got, err)
		}
		// The same text encoding/json writes.
		if want, _ := json.Marshal(f); string(b) != string(want) && !(f == 0 && math.Signbit(f)) {
			t.Fatalf("%v → %s, encoding/json writes %s", f, b, want)
		}
	}
}

// TestUnservableView: a view whose source cannot be read where the server
// runs is answered 503 with the reason; the other views keep serving.
func TestUnservableView(t *testing.T) {
	d, data := exampleDefs(t)
	st, err := featurestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loadExample(t, st, st.Online(), d)
	if err := os.Remove(filepath.Join(data, "data", "riders.parquet")); err != nil {
		t.Fatal(err)
	}
	at := rides.DefaultEnd
	fs := newFeatureServer(st.Online(), st.Registry(), Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return at })
	var ctx fasthttp.RequestCtx
	call(fs, &ctx, []byte(`{"features":["rider_profile:segment"],"entities":{"rider_id":[1]}}`))
	if code := ctx.Response.StatusCode(); code != 503 || !bytes.Contains(ctx.Response.Body(), []byte(`feature view \"rider_profile\" cannot be served`)) || !bytes.Contains(ctx.Response.Body(), []byte("riders.parquet")) {
		t.Fatalf("unservable view: %d %s", code, ctx.Response.Body())
	}
	call(fs, &ctx, []byte(`{"features":["driver_hourly:conv_rate"],"entities":{"driver_id":[1001]}}`))
	if code := ctx.Response.StatusCode(); code != 200 {
		t.Fatalf("other view: %d %s", code, ctx.Response.Body())
	}
}

// TestStatusNumbers: gRPC statuses convert from featurestore.Status by
// number, so the two enums must agree name for name.
func TestStatusNumbers(t *testing.T) {
	for s := featurestore.Present; s <= featurestore.OutsideMaxAge; s++ {
		if got := strings.TrimPrefix(fstorev1.FieldStatus(s).String(), "FIELD_STATUS_"); got != s.String() {
			t.Errorf("status %d: proto %s, featurestore %s", s, got, s)
		}
	}
}
