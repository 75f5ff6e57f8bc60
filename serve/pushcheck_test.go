package serve

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/def"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
)

// startPushEnv starts a server over the example on the embedded store,
// with the example's definitions changed by edit and the limits lim.
func startPushEnv(t *testing.T, edit func(d *def.Definitions), lim Limits) *featureEnv {
	t.Helper()
	d, data := exampleDefs(t)
	if edit != nil {
		edit(d)
	}
	env := &featureEnv{now: rides.DefaultEnd, data: data}
	env.testServer = startServerWith(t, func(st *featurestore.Store, cfg *Config) {
		loadExample(t, st, st.Online(), d)
		env.online = st.Online()
		cfg.Online = st.Online()
		cfg.Now = func() time.Time { return env.now }
		cfg.Limits = lim
	})
	env.serve = fstorev1.NewServingServiceClient(env.conn)
	return env
}

// allowNonFinite sets allow_non_finite on the fare column of trips_live.
func allowNonFinite(d *def.Definitions) {
	for _, s := range d.Sources {
		if s.Name != "trips_live" {
			continue
		}
		for i := range s.Schema {
			if s.Schema[i].Name == "fare" {
				s.Schema[i].AllowNonFinite = true
			}
		}
	}
}

// pushFare pushes one completed trip of driver 1001 with fare (a JSON
// literal) at time ts over HTTP.
func pushFare(t *testing.T, env *featureEnv, fare string, ts time.Time) (int, string) {
	t.Helper()
	code, b := post(t, env.httpURL+"/push", `{"push_source_name":"trips_live","df":{
		"trip_id":[1,2,3,4],"driver_id":[1001,1001,1001,1001],"event_ts":["`+ts.Format(time.RFC3339)+`","`+ts.Format(time.RFC3339)+`","`+ts.Format(time.RFC3339)+`","`+ts.Format(time.RFC3339)+`"],
		"fare":[1,2,3,`+fare+`],"tip":[0,0,0,0],"completed":[true,true,true,true]}}`)
	var e struct{ Error string }
	if code != 200 {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("push: %d %s", code, b)
		}
	}
	return code, e.Error
}

func grpcPushFare(env *featureEnv, fare float64, ts time.Time) error {
	v := func(k *fstorev1.Value) *fstorev1.RepeatedValue {
		return &fstorev1.RepeatedValue{Val: []*fstorev1.Value{{Kind: &fstorev1.Value_DoubleVal{DoubleVal: 1}}, k}}
	}
	i64 := func(x int64) *fstorev1.Value { return &fstorev1.Value{Kind: &fstorev1.Value_Int64Val{Int64Val: x}} }
	_, err := env.serve.Push(context.Background(), &fstorev1.PushRequest{PushSourceName: "trips_live", Columns: map[string]*fstorev1.RepeatedValue{
		"trip_id":   {Val: []*fstorev1.Value{i64(1), i64(2)}},
		"driver_id": {Val: []*fstorev1.Value{i64(1001), i64(1001)}},
		"event_ts":  {Val: []*fstorev1.Value{i64(ts.UnixMicro()), i64(ts.UnixMicro())}},
		"fare":      v(&fstorev1.Value{Kind: &fstorev1.Value_DoubleVal{DoubleVal: fare}}),
		"completed": {Val: []*fstorev1.Value{{Kind: &fstorev1.Value_BoolVal{BoolVal: true}}, {Kind: &fstorev1.Value_BoolVal{BoolVal: true}}}},
	}})
	return err
}

// fareSum reads driver 1001's fare_sum_24h: its JSON value and status.
func fareSum(t *testing.T, env *featureEnv) (any, string) {
	t.Helper()
	r := env.get(t, `{"features":["driver_trips:fare_sum_24h"],"entities":{"driver_id":[1001]}}`)
	return r.Results[1].Values[0], r.Results[1].Statuses[0]
}

func TestPushNonFinite(t *testing.T) {
	env := startPushEnv(t, nil, Limits{})
	ts := env.now.Add(-time.Minute)
	before, st := fareSum(t, env)
	if st != "PRESENT" {
		t.Fatalf("fare_sum_24h before = %v %s", before, st)
	}
	const hint = ` is not a finite number (source "trips_live" column "fare" is DOUBLE; set allow_non_finite on the column to accept it)`
	// fastjson takes bare NaN, Inf and ±Infinity's first three letters as
	// numbers: each must be refused, not only the spellings strconv takes.
	for _, c := range []struct{ lit, want string }{
		{"NaN", "NaN"}, {"nan", "NaN"}, {"Inf", "+Inf"}, {"-Inf", "-Inf"}, {"+inf", "+Inf"}, {"1e400", "+Inf"}, {"-1e400", "-Inf"},
	} {
		code, msg := pushFare(t, env, c.lit, ts)
		if want := "df.fare[3]: " + c.want + hint; code != 400 || msg != want {
			t.Errorf("push fare %s: %d %q\n want 400 %q", c.lit, code, msg, want)
		}
	}
	// Infinity spelled out is not JSON fastjson takes: malformed.
	if code, msg := pushFare(t, env, "Infinity", ts); code != 400 || !strings.Contains(msg, "malformed JSON") {
		t.Errorf("push fare Infinity: %d %q", code, msg)
	}
	for _, c := range []struct {
		f    float64
		want string
	}{{math.NaN(), "NaN"}, {math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}} {
		f := c.f
		err := grpcPushFare(env, f, ts)
		want := "columns.fare[1]: " + c.want + hint
		if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != want {
			t.Errorf("gRPC push fare %v: %v\n want InvalidArgument %q", f, err, want)
		}
	}
	if after, st := fareSum(t, env); after != before || st != "PRESENT" {
		t.Fatalf("fare_sum_24h after refused pushes = %v %s, want %v PRESENT", after, st, before)
	}
	// Finite values next to the bounds are taken.
	if code, msg := pushFare(t, env, "1.7976931348623157e308", ts); code != 200 {
		t.Fatalf("push of the largest double: %d %s", code, msg)
	}
}

// TestPushNonFiniteAllowed: with allow_non_finite the NaN is taken; the
// window holding it is NaN, which JSON cannot carry: it is written null
// and must then say NULL_VALUE, not PRESENT (the bug: one NaN event
// nulled a 24 h window that still reported PRESENT).
func TestPushNonFiniteAllowed(t *testing.T) {
	env := startPushEnv(t, allowNonFinite, Limits{})
	ts := env.now.Add(-time.Minute)
	if code, msg := pushFare(t, env, "NaN", ts); code != 200 {
		t.Fatalf("push NaN with allow_non_finite: %d %s", code, msg)
	}
	if err := grpcPushFare(env, math.Inf(1), ts); err != nil {
		t.Fatalf("gRPC push +Inf with allow_non_finite: %v", err)
	}
	if v, st := fareSum(t, env); v != nil || st != "NULL_VALUE" {
		t.Fatalf("fare_sum_24h over a NaN = %v %s, want null NULL_VALUE", v, st)
	}
}

func TestPushMaxFuture(t *testing.T) {
	for _, c := range []struct {
		name string
		lim  Limits
		ts   time.Duration // after now
		want string        // "" accepted
	}{
		{"30m", Limits{}, 30 * time.Minute, ""},
		{"1h", Limits{}, time.Hour, ""},
		{"2h", Limits{}, 2 * time.Hour, "df.event_ts[0]: 2026-01-08T02:00:00Z is more than 1h in the future (--max-future)"},
		{"2h/max=3h", Limits{MaxFuture: 3 * time.Hour}, 2 * time.Hour, ""},
		{"2h/max=90m", Limits{MaxFuture: 90 * time.Minute}, 2 * time.Hour, "df.event_ts[0]: 2026-01-08T02:00:00Z is more than 1h30m in the future (--max-future)"},
		{"1y/unbounded", Limits{MaxFuture: -1}, 365 * 24 * time.Hour, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := startPushEnv(t, nil, c.lim)
			ts := env.now.Add(c.ts)
			code, b := post(t, env.httpURL+"/push", `{"push_source_name":"trips_live","df":{"trip_id":[1],"driver_id":[1001],"event_ts":["`+ts.Format(time.RFC3339)+`"],"fare":[1],"completed":[true]}}`)
			var e struct{ Error string }
			_ = json.Unmarshal(b, &e)
			if c.want == "" && code != 200 || c.want != "" && (code != 400 || e.Error != c.want) {
				t.Fatalf("push at now+%v: %d %s\n want %q", c.ts, code, b, c.want)
			}
		})
	}
	env := startPushEnv(t, nil, Limits{})
	code, b := post(t, env.httpURL+"/push", `{"push_source_name":"trips_live","df":[{"trip_id":1,"driver_id":1001,"event_ts":"`+env.now.Format(time.RFC3339)+`","fare":1,"completed":true},{"trip_id":1,"driver_id":1001,"event_ts":"9999-01-01T00:00:00Z","fare":1,"completed":true}]}`)
	if want := `{"error":"df.event_ts[1]: 9999-01-01T00:00:00Z is more than 1h in the future (--max-future)"}`; code != 400 || string(b) != want {
		t.Fatalf("year-9999 push: %d %s\n want 400 %s", code, b, want)
	}
	err := grpcPushFare(env, 1, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if want := "columns.event_ts[0]: 9999-01-01T00:00:00Z is more than 1h in the future (--max-future)"; status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != want {
		t.Fatalf("gRPC year-9999 push: %v\n want %q", err, want)
	}
}
