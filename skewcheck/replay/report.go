package replay

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Counts classifies compared values: one per logged row and feature.
type Counts struct {
	// Compared is Match + Mismatch + ServedOnly + OfflineOnly.
	Compared int64 `json:"compared"`
	// Match counts equal values (within the tolerance where one applies)
	// and values null on both sides.
	Match int64 `json:"match"`
	// Mismatch counts values non-null on both sides that differ.
	Mismatch int64 `json:"mismatch"`
	// ServedOnly counts values served (status PRESENT) that the offline
	// engine computes as null.
	ServedOnly int64 `json:"served_only"`
	// OfflineOnly counts values served as null (NULL_VALUE, NOT_FOUND,
	// OUTSIDE_MAX_AGE) that the offline engine computes as non-null.
	OfflineOnly int64 `json:"offline_only"`
	// MismatchRate is (Mismatch + ServedOnly + OfflineOnly) / Compared; 0
	// when nothing was compared.
	MismatchRate float64 `json:"mismatch_rate"`
}

// Disagree returns Mismatch + ServedOnly + OfflineOnly.
func (c Counts) Disagree() int64 { return c.Mismatch + c.ServedOnly + c.OfflineOnly }

func (c *Counts) add(o Counts) {
	c.Compared += o.Compared
	c.Match += o.Match
	c.Mismatch += o.Mismatch
	c.ServedOnly += o.ServedOnly
	c.OfflineOnly += o.OfflineOnly
	c.finish()
}

func (c *Counts) finish() {
	c.MismatchRate = 0
	if c.Compared > 0 {
		c.MismatchRate = float64(c.Disagree()) / float64(c.Compared)
	}
}

// FeatureReport is one logged feature's counts.
type FeatureReport struct {
	// Feature is the column name <view>__<feature>.
	Feature string `json:"feature"`
	// Tolerance is the relative tolerance its values compared with; 0
	// means exactly (floats bit for bit).
	Tolerance float64 `json:"tolerance"`
	Counts
}

// KeyValue is one join key of an entity, formatted.
type KeyValue struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

// Example is one disagreeing value of an entity: the first met in log
// order.
type Example struct {
	RequestID string    `json:"request_id"`
	RequestTS time.Time `json:"request_ts"`
	Feature   string    `json:"feature"`
	// Category is "mismatch", "served_only" or "offline_only".
	Category string `json:"category"`
	// Served and Offline are the values formatted (floats shortest
	// round-trip, timestamps RFC 3339), null when null.
	Served  *string `json:"served"`
	Offline *string `json:"offline"`
	// ServedStatus is the logged status (PRESENT, NULL_VALUE, NOT_FOUND,
	// OUTSIDE_MAX_AGE); OfflineStatus is PRESENT or NULL_VALUE.
	ServedStatus  string `json:"served_status"`
	OfflineStatus string `json:"offline_status"`
}

// EntityReport is one entity among the worst of its group.
type EntityReport struct {
	Keys []KeyValue `json:"keys"`
	// Rows counts the entity's logged rows with at least one disagreeing
	// value; Values counts its disagreeing values.
	Rows    int64   `json:"rows"`
	Values  int64   `json:"values"`
	Example Example `json:"example"`
}

// GroupReport is the replay of the logs of one schema: one feature
// service at one registry version, either the service's own rows
// (/get-online-features) or a model's rows on it (/v1/predict: its input
// features and the model columns).
type GroupReport struct {
	Service         string `json:"service"`
	RegistryVersion uint64 `json:"registry_version"`
	// Model is set when the logged rows have model columns (endpoint,
	// model, model_version, prediction); Endpoints and Models then list
	// the distinct names the replayed rows hold, sorted, at most 16 each
	// (NamesTruncated: there were more).
	Model          bool     `json:"model,omitempty"`
	Endpoints      []string `json:"endpoints,omitempty"`
	Models         []string `json:"models,omitempty"`
	NamesTruncated bool     `json:"names_truncated,omitempty"`
	Files          []string `json:"files"`
	// Rows is the number of logged rows replayed (those in the time range).
	Rows     int64           `json:"rows"`
	Features []FeatureReport `json:"features"`
	Total    Counts          `json:"total"`
	// Worst are the entities with the most disagreeing rows, most first
	// (ties: first seen first).
	Worst []EntityReport `json:"worst_entities"`
	// WorstApproximate is set when more distinct entities disagreed than
	// replay tracks (maxTracked): entities met after that are counted in
	// the totals but cannot enter Worst.
	WorstApproximate bool `json:"worst_approximate,omitempty"`
	// Elapsed times the phases: backfill, compare.
	Elapsed map[string]time.Duration `json:"elapsed_ns"`
}

// Report is a whole replay.
type Report struct {
	Logs   string        `json:"logs"`
	Since  *time.Time    `json:"since,omitempty"`
	Until  *time.Time    `json:"until,omitempty"`
	Groups []GroupReport `json:"groups"`
	// Rows is the number of logged rows replayed, Total the counts over
	// every group and feature.
	Rows  int64  `json:"rows"`
	Total Counts `json:"total"`
}

// WriteTable writes r for a terminal: per group, the features' counts and
// rates, the total and the worst entities with an example each.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, g := range r.Groups {
		fmt.Fprintf(tw, "service %s at registry version %d%s: %d rows from %d files\n", g.Service, g.RegistryVersion, modelText(&g), g.Rows, len(g.Files))
		fmt.Fprintln(tw, "FEATURE\tCOMPARED\tMATCH\tMISMATCH\tSERVED-ONLY\tOFFLINE-ONLY\tRATE\tTOLERANCE")
		for _, f := range g.Features {
			writeCounts(tw, f.Feature, f.Counts, tolText(f.Tolerance))
		}
		writeCounts(tw, "total", g.Total, "")
		if len(g.Worst) > 0 {
			fmt.Fprintln(tw)
			fmt.Fprintln(tw, "WORST ENTITY\tROWS\tVALUES\tEXAMPLE")
			for _, e := range g.Worst {
				x := e.Example
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s at %s (request %s): served %s (%s), offline %s (%s)\n",
					keysText(e.Keys), e.Rows, e.Values, x.Feature, x.RequestTS.Format(time.RFC3339Nano), x.RequestID,
					valueText(x.Served), x.ServedStatus, valueText(x.Offline), x.OfflineStatus)
			}
			if g.WorstApproximate {
				fmt.Fprintln(tw, "(more entities disagreed than replay tracks: the list may miss some)")
			}
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "total: %d rows, %d values compared, %d disagree (mismatch %d, served-only %d, offline-only %d): rate %s\n",
		r.Rows, r.Total.Compared, r.Total.Disagree(), r.Total.Mismatch, r.Total.ServedOnly, r.Total.OfflineOnly, rateText(r.Total.MismatchRate))
	return tw.Flush()
}

// modelText names the model rows of a group for its header: empty for a
// service's own rows.
func modelText(g *GroupReport) string {
	if !g.Model {
		return ""
	}
	more := ""
	if g.NamesTruncated {
		more = ", ..."
	}
	var eps []string
	for _, e := range g.Endpoints {
		if e != "" {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		// Requests that named the model directly, not through an
		// endpoint.
		return fmt.Sprintf(", predictions of model %s%s", orNone(g.Models), more)
	}
	return fmt.Sprintf(", predictions of model %s (endpoint %s%s)", orNone(g.Models), strings.Join(eps, ", "), more)
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "(none named)"
	}
	return strings.Join(names, ", ")
}

func writeCounts(w io.Writer, name string, c Counts, tol string) {
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", name, c.Compared, c.Match, c.Mismatch, c.ServedOnly, c.OfflineOnly, rateText(c.MismatchRate), tol)
}

func rateText(r float64) string {
	if r == 0 {
		return "0"
	}
	return fmt.Sprintf("%.4g%%", 100*r)
}

func tolText(t float64) string {
	if t == 0 {
		return "exact"
	}
	return fmt.Sprintf("%g rel", t)
}

func valueText(v *string) string {
	if v == nil {
		return "null"
	}
	return *v
}

func keysText(keys []KeyValue) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Name + "=" + valueText(k.Value)
	}
	return strings.Join(parts, " ")
}
