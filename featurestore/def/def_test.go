package def

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSuggest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cands []string
		want  []string
	}{
		{"driver_stat", []string{"trips", "rider_stats", "driver_stats"}, []string{"driver_stats", "rider_stats"}},
		{"INT46", []string{"INT64", "INT32", "DOUBLE"}, []string{"INT64"}},
		{"nme", []string{"name", "name", "type"}, []string{"name"}},
		{"q", []string{"p"}, nil},
		{"conv_rat", []string{"conv_rate", "conv_rates", "acc_rate"}, []string{"conv_rate", "conv_rates"}},
		{strings.Repeat("x", 10_000), []string{strings.Repeat("x", 9_999)}, nil},
	} {
		if got := Suggest(tc.name, tc.cands); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Suggest(%.20q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseFeatureRef(t *testing.T) {
	r, err := ParseFeatureRef("driver_hourly:conv_rate")
	if err != nil || r != (FeatureRef{"driver_hourly", "conv_rate"}) || r.Column() != "driver_hourly__conv_rate" {
		t.Fatalf("got %+v, %v", r, err)
	}
	if r, err := ParseFeatureRef("v:*"); err != nil || !r.Wildcard() {
		t.Fatalf("wildcard: %+v %v", r, err)
	}
	for _, bad := range []string{"", "v", ":f", "v:", "V:f", "v:f:g", "v:F", "v :f"} {
		if _, err := ParseFeatureRef(bad); err == nil {
			t.Errorf("ParseFeatureRef(%q) accepted", bad)
		}
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{
		"entity": KindEntity, "entities": KindEntity, "feature-views": KindFeatureView,
		"FEATURE_VIEW": KindFeatureView, "on_demand_feature_views": KindOnDemandView, "models": KindModel,
	} {
		if got, ok := ParseKind(in); !ok || got != want {
			t.Errorf("ParseKind(%q) = %q, %t", in, got, ok)
		}
	}
	if _, ok := ParseKind("views"); ok {
		t.Error("ParseKind accepted an unknown kind")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 24 * time.Hour: "24h", 90 * time.Minute: "1h30m", time.Minute: "1m",
		90 * time.Second: "1m30s", 1500 * time.Millisecond: "1.5s", 0: "0s", time.Hour + time.Second: "1h0m1s",
		48 * time.Hour: "2d", 7 * 24 * time.Hour: "7d", 49 * time.Hour: "49h", -48 * time.Hour: "-48h",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// FuzzParseFeatureRef checks that a reference that parses formats back to
// the same string, and that nothing panics.
func FuzzParseFeatureRef(f *testing.F) {
	for _, s := range []string{"v:f", "v:*", "a_b:c_1", "", ":", "v::f", "\xff:f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseFeatureRef(s)
		if err != nil {
			return
		}
		if r.String() != s {
			t.Fatalf("%q parsed to %+v, which formats as %q", s, r, r.String())
		}
		if CheckName(r.View) != nil || (!r.Wildcard() && CheckName(r.Feature) != nil) {
			t.Fatalf("%q parsed into invalid names %+v", s, r)
		}
	})
}
