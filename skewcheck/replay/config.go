package replay

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/fstore/fstore/featurestore/registry"
)

// Config is one replay. Logs and Snapshot are required; every other field
// has a default, applied by EnsureDefaults.
type Config struct {
	// Logs is a feature-log directory: a featurelog Logger's Dir, or one
	// service's directory beneath it. Required.
	Logs string
	// Since and Until bound the requests replayed by request_ts,
	// inclusive; a zero time leaves that end open.
	Since, Until time.Time
	// Snapshot returns the registry snapshot of one version: every group
	// of logs is recomputed with the definitions of the registry version
	// it recorded, never the latest. Required.
	Snapshot func(ctx context.Context, version uint64) (*registry.Snapshot, error)
	// Worst is how many entities the report lists per group, those with
	// the most rows holding a disagreeing value. Default 10.
	Worst int
	// Tolerance is the relative tolerance for the DOUBLE results of SUM,
	// MEAN and STDDEV aggregations of views fed by a push source: pushed
	// events may arrive out of order, so their sums are added in another
	// order than offline (README, Online state: "equal the offline value
	// up to floating-point rounding"). Two such values a and b match when
	// |a-b| <= Tolerance·max(|a|,|b|). Every other value compares exactly,
	// floats bit for bit (any NaN equals any NaN). Default 1e-9; negative
	// is invalid; set a tiny positive value such as 1e-300 to make even
	// these exact in effect.
	Tolerance float64
	// Workers is the backfill's parallelism. Default runtime.GOMAXPROCS(0).
	Workers int
	// MemoryLimit bounds the memory the backfill's join holds, in bytes.
	// Default 1 GiB (backfill's default).
	MemoryLimit int64
	// TempDir holds the recomputed rows of one group at a time, and
	// backfill's spill files. Default os.TempDir().
	TempDir string
	// Progress, if set, receives progress reports, from one goroutine at a
	// time.
	Progress func(Progress)
}

// Progress is a snapshot of a running replay.
type Progress struct {
	// Service and RegistryVersion name the group being replayed.
	Service         string
	RegistryVersion uint64
	// Phase is "backfill <phase>" (backfill's own phases) or "compare".
	Phase string
	// Done and Total count rows (partitions in backfill's join phase).
	Done, Total int64
}

// DefaultTolerance is Config.Tolerance's default.
const DefaultTolerance = 1e-9

// EnsureDefaults fills in the zero fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.Worst == 0 {
		c.Worst = 10
	}
	if c.Tolerance == 0 {
		c.Tolerance = DefaultTolerance
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = 1 << 30
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
}

// Validate reports a Config that cannot work; errors match ErrConfig and
// name the field.
func (c *Config) Validate() error {
	switch {
	case c.Logs == "":
		return fmt.Errorf("%w: Logs: no log directory", ErrConfig)
	case c.Snapshot == nil:
		return fmt.Errorf("%w: Snapshot: no registry snapshot resolver", ErrConfig)
	case !c.Since.IsZero() && !c.Until.IsZero() && c.Since.After(c.Until):
		return fmt.Errorf("%w: Since %s is after Until %s", ErrConfig, c.Since.UTC().Format(time.RFC3339Nano), c.Until.UTC().Format(time.RFC3339Nano))
	case c.Worst < 0:
		return fmt.Errorf("%w: Worst %d is negative", ErrConfig, c.Worst)
	case c.Tolerance < 0 || c.Tolerance != c.Tolerance:
		return fmt.Errorf("%w: Tolerance %g is not a non-negative number", ErrConfig, c.Tolerance)
	case c.Workers < 0:
		return fmt.Errorf("%w: Workers %d is negative", ErrConfig, c.Workers)
	case c.MemoryLimit < 0:
		return fmt.Errorf("%w: MemoryLimit %d is negative", ErrConfig, c.MemoryLimit)
	}
	return nil
}
