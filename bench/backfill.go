package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/fstore/fstore/backfill"
	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore"
	"github.com/fstore/fstore/featurestore/registry"
)

// BackfillData sizes the backfill scenario's deterministic dataset. At
// Scale 1: 5,000,000 feature rows of 8 DOUBLE features over 100,000
// entities, in 4 files, and a spine of 1,000,000 rows (1% of them for
// entities that have no features). Scale multiplies every row count.
type BackfillData struct {
	Dir   string
	Scale float64
	Seed  uint64
}

// Counts returns the feature rows, entities and spine rows of the scale.
func (c BackfillData) Counts() (rows, entities, spine int) {
	s := c.Scale
	if s <= 0 {
		s = 1
	}
	return int(5_000_000 * s), max(int(100_000*s), 1), int(1_000_000 * s)
}

// FeatureRow is one row of the scenario's feature files.
type FeatureRow struct {
	EntityID int64   `parquet:"entity_id"`
	EventTS  int64   `parquet:"event_ts,timestamp(microsecond)"`
	F1       float64 `parquet:"f1"`
	F2       float64 `parquet:"f2"`
	F3       float64 `parquet:"f3"`
	F4       float64 `parquet:"f4"`
	F5       float64 `parquet:"f5"`
	F6       float64 `parquet:"f6"`
	F7       float64 `parquet:"f7"`
	F8       float64 `parquet:"f8"`
}

// SpineRow is one row of the scenario's spine.
type SpineRow struct {
	RequestID      int64 `parquet:"request_id"`
	EntityID       int64 `parquet:"entity_id"`
	EventTimestamp int64 `parquet:"event_timestamp,timestamp(microsecond)"`
	Label          int64 `parquet:"label"`
}

// BackfillDefinitions are the scenario's definitions: one view of the 8
// features, no TTL (so that DuckDB's ASOF JOIN computes the same thing).
const BackfillDefinitions = `
entities { name: "entity" join_keys { name: "entity_id" type: INT64 } }
sources { name: "features" parquet { path: "features" } timestamp_column: "event_ts" }
feature_views {
  name: "fv" entities: "entity" source: "features"
  features { name: "f1" type: DOUBLE } features { name: "f2" type: DOUBLE }
  features { name: "f3" type: DOUBLE } features { name: "f4" type: DOUBLE }
  features { name: "f5" type: DOUBLE } features { name: "f6" type: DOUBLE }
  features { name: "f7" type: DOUBLE } features { name: "f8" type: DOUBLE }
}
feature_services { name: "all" features: "fv:*" }
`

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// Generate writes Dir/definitions.textproto, Dir/features/part-N.parquet and
// Dir/spine.parquet. Rows stream to the files in chunks, so generating any
// scale needs little memory. Event times are unique per entity (so every
// engine agrees on ties) and files are ordered by time, not by key.
func (c BackfillData) Generate(progress func(done, total int)) error {
	rows, entities, spineRows := c.Counts()
	if err := os.MkdirAll(filepath.Join(c.Dir, "features"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "definitions.textproto"), []byte(BackfillDefinitions), 0o644); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(c.Seed+1, 99))
	perEntity := max(rows/entities, 1)
	const files = 4
	var done int
	for f := 0; f < files; f++ {
		path := filepath.Join(c.Dir, "features", fmt.Sprintf("part-%d.parquet", f))
		err := writeChunks(path, func(emit func(FeatureRow) error) error {
			// Slice j of the per-entity history goes to file j%files.
			for j := f; j < perEntity; j += files {
				for e := 0; e < entities; e++ {
					ts := base + int64(j)*3_600_000_000 + int64(e%3_600)*1_000_000 + int64(e/3_600)
					row := FeatureRow{EntityID: int64(e), EventTS: ts,
						F1: r.Float64(), F2: r.Float64(), F3: r.NormFloat64(), F4: r.NormFloat64(),
						F5: r.ExpFloat64(), F6: r.Float64() * 100, F7: float64(r.IntN(1000)), F8: r.Float64()}
					if err := emit(row); err != nil {
						return err
					}
					done++
					if progress != nil && done%500_000 == 0 {
						progress(done, rows+spineRows)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	span := int64(perEntity+2) * 3_600_000_000
	err := writeChunks(filepath.Join(c.Dir, "spine.parquet"), func(emit func(SpineRow) error) error {
		for i := 0; i < spineRows; i++ {
			row := SpineRow{
				RequestID:      int64(i),
				EntityID:       int64(r.IntN(entities + entities/100)),
				EventTimestamp: base - 3_600_000_000 + r.Int64N(span),
				Label:          int64(r.IntN(2)),
			}
			if err := emit(row); err != nil {
				return err
			}
			done++
			if progress != nil && done%500_000 == 0 {
				progress(done, rows+spineRows)
			}
		}
		return nil
	})
	return err
}

// writeChunks writes rows to path in 64Ki-row chunks, zstd-compressed, in
// 128Ki-row groups.
func writeChunks[T any](path string, gen func(emit func(T) error) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}), parquet.MaxRowsPerRowGroup(128<<10))
	buf := make([]T, 0, 64<<10)
	flush := func() error {
		if _, err := w.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		return nil
	}
	err = gen(func(row T) error {
		buf = append(buf, row)
		if len(buf) == cap(buf) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = w.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// BackfillRun configures one timed backfill over a generated dataset.
type BackfillRun struct {
	Dir         string
	Workers     int
	MemoryLimit int64
	Progress    func(backfill.Progress)
}

// Run applies the scenario's definitions to a data directory under Dir and
// builds Dir/fstore.parquet for the spine, end to end (read, join, write).
func (c BackfillRun) Run(ctx context.Context) (backfill.Stats, error) {
	dataDir := filepath.Join(c.Dir, "fstore-data")
	st, err := featurestore.Open(dataDir, nil)
	if err != nil {
		return backfill.Stats{}, err
	}
	snap, err := applyDefinitions(st, filepath.Join(c.Dir, "definitions.textproto"), "bench")
	if err != nil {
		st.Close()
		return backfill.Stats{}, err
	}
	if err := st.Close(); err != nil {
		return backfill.Stats{}, err
	}
	return backfill.Run(ctx, backfill.Config{
		Snapshot: snap, Service: "all",
		Spine: filepath.Join(c.Dir, "spine.parquet"), Out: filepath.Join(c.Dir, "fstore.parquet"),
		Workers: c.Workers, MemoryLimit: c.MemoryLimit, Progress: c.Progress,
	})
}

// applyDefinitions loads, checks and applies a scenario's definitions file
// to st's registry and returns the version applied.
func applyDefinitions(st *featurestore.Store, path, description string) (*registry.Snapshot, error) {
	p, origins, err := registry.LoadFiles([]string{path})
	if err != nil {
		return nil, err
	}
	d, err := registry.Compile(p, origins, compute.NewChecker())
	if err != nil {
		return nil, err
	}
	res, err := st.Registry().Apply(d, registry.ApplyOptions{Description: description})
	if err != nil {
		return nil, err
	}
	return res.Snapshot, nil
}
