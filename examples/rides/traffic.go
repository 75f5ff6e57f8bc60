package rides

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// TrafficFile is the /v1/predict request body that Traffic writes beside
// the example: trip requests as the model will see them in production.
const TrafficFile = "traffic.json"

// Traffic writes dir/traffic.json, a /v1/predict body for model asking for
// the last n trip requests of dir/data/spine.parquet (fewer if the spine
// has fewer): served traffic drawn from the training distribution, for
// the drift monitor to compare with the training set.
func Traffic(dir, model string, n int) (string, error) {
	rows, err := parquet.ReadFile[Request](filepath.Join(dir, "data", "spine.parquet"))
	if err != nil {
		return "", fmt.Errorf("rides: cannot read the spine: %w", err)
	}
	if len(rows) > n {
		rows = rows[len(rows)-n:]
	}
	var b bytes.Buffer
	list := func(name string, f func(r *Request) string) {
		fmt.Fprintf(&b, "%q: [", name)
		for i := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f(&rows[i]))
		}
		b.WriteByte(']')
	}
	fmt.Fprintf(&b, `{"model": %q, "entities": {`, model)
	list("driver_id", func(r *Request) string { return strconv.FormatInt(r.DriverID, 10) })
	b.WriteString(", ")
	list("rider_id", func(r *Request) string { return strconv.FormatInt(r.RiderID, 10) })
	b.WriteString(`}, "request_context": {`)
	list("distance_km", func(r *Request) string { return strconv.FormatFloat(r.DistanceKm, 'g', -1, 64) })
	b.WriteString(", ")
	list("surge", func(r *Request) string { return strconv.FormatFloat(r.Surge, 'g', -1, 64) })
	b.WriteString("}}\n")
	path := filepath.Join(dir, TrafficFile)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("rides: cannot write %s: %w", path, err)
	}
	return path, nil
}
