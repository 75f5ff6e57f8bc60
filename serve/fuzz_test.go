package serve

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/fstore/fstore/examples/rides"
	"github.com/fstore/fstore/featurestore"
)

// FuzzGetOnlineFeaturesRequest feeds arbitrary bodies through the whole
// request path on the example's materialised online state: decoding,
// resolution, reads, on-demand evaluation and encoding. A body must be
// answered with a response that is valid JSON or a bad-request error,
// never a panic or another kind of failure.
func FuzzGetOnlineFeaturesRequest(f *testing.F) {
	for _, s := range []string{
		`{"features":["driver_hourly:conv_rate","driver_trips:trips_24h"],"entities":{"driver_id":[1001,1002,null]}}`,
		`{"feature_service":"trip_completion","full_feature_names":true,"entities":{"driver_id":[1001],"rider_id":[1]},"request_context":{"distance_km":[3.5],"surge":[1.2]}}`,
		`{"features":["rider_profile:*"],"entities":{"rider_id":[1,2,3]}}`,
		`{"features":["trip_request:est_fare"],"entities":{"driver_id":[1]},"request_context":{"distance_km":[1e308],"surge":[-1e308]}}`,
		`{"features":["driver_hourly:conv_rate"],"entities":{"driver_id":["x"]}}`,
		`{"features":["driver_hourly:"],"entities":{}}`,
		`{"features":[":x"]}`, `[]`, `{`, ``, `{"entities":{"driver_id":[1]},"entities":{"driver_id":[2]}}`,
	} {
		f.Add([]byte(s))
	}
	fs := fuzzFeatureServer(f)
	now := rides.DefaultEnd.UnixMicro()
	f.Fuzz(func(t *testing.T, body []byte) {
		r := fs.acquire()
		defer fs.release(r)
		err := r.decodeJSON(body)
		if err == nil {
			err = r.resolve()
		}
		if err == nil {
			err = r.execute(context.Background(), fs.store, nil, now)
		}
		if err != nil {
			if c := code(err); c.String() != "InvalidArgument" && c.String() != "NotFound" {
				t.Fatalf("%q: error %v mapped to %s, want a 4xx", body, err, c)
			}
			return
		}
		out := r.appendJSON(nil)
		if !json.Valid(out) {
			t.Fatalf("%q: response is not JSON: %s", body, out)
		}
	})
}

// fuzzFeatureServer is a feature server over the example's materialised
// online state in Pebble, for fuzz targets.
func fuzzFeatureServer(f *testing.F) *featureServer {
	d, _ := exampleDefs(f)
	st, err := featurestore.Open(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	loadExample(f, st, st.Online(), d)
	at := rides.DefaultEnd
	return newFeatureServer(st.Online(), st.Registry(), Limits{MaxEntities: 100}, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return at })
}

// FuzzPushRequest feeds arbitrary bodies to the push path into a real
// store: a body is applied or refused with a 4xx error, never a panic; a
// refused body writes nothing (the store stays readable either way).
func FuzzPushRequest(f *testing.F) {
	for _, s := range []string{
		`{"push_source_name":"trips_live","df":{"driver_id":[1001],"event_ts":["2026-01-07 23:00:00"],"fare":[3.5],"completed":[true]}}`,
		`{"push_source_name":"trips_live","df":[{"driver_id":1001,"rider_id":2,"event_ts":"2026-01-07T23:00:00Z","payment_type":"card"}]}`,
		`{"push_source_name":"trips_live","df":{"driver_id":[null],"event_ts":[1]}}`,
		`{"push_source_name":"trips_live","to":"offline","df":{}}`,
		`{"push_source_name":"trips","df":{}}`, `{"df":[]}`, `[`, ``,
	} {
		f.Add([]byte(s))
	}
	fs := fuzzFeatureServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		cat := fs.cat.Load()
		src, events, err := decodePushJSON(cat, body, fs.lim.MaxEntities)
		if err == nil {
			_, err = fs.pushEvents(context.Background(), cat, src, events)
		}
		if err != nil {
			if c := code(err); c.String() != "InvalidArgument" && c.String() != "NotFound" {
				t.Fatalf("%q: error %v mapped to %s, want a 4xx", body, err, c)
			}
		}
		r := fs.acquire()
		defer fs.release(r)
		if err := r.decodeJSON([]byte(`{"features":["driver_trips:*"],"entities":{"driver_id":[1001,1002]}}`)); err != nil {
			t.Fatal(err)
		}
		if err := r.resolve(); err != nil {
			t.Fatal(err)
		}
		if err := r.execute(context.Background(), fs.store, nil, rides.DefaultEnd.UnixMicro()); err != nil {
			t.Fatalf("store unreadable after push %q: %v", body, err)
		}
	})
}
