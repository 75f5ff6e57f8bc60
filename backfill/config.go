package backfill

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/fstore/fstore/featurestore/registry"
	"github.com/fstore/fstore/skewcheck/profile"
)

// Config is one backfill. Snapshot, Spine, Out and one of Service or
// Features are required; every other field has a default.
type Config struct {
	// Snapshot is the registry version whose definitions are used.
	Snapshot *registry.Snapshot
	// Service names a feature service; Features lists references
	// (view:feature or view:*) instead.
	Service  string
	Features []string
	// Spine is a Parquet file, directory or glob: entity join keys, a
	// timestamp column and any other columns, all carried through (unless
	// SpineColumns says otherwise). A directory or glob is read in lexical
	// order of its file paths.
	Spine string
	// Spines lists the spine's files instead of Spine, read in the order
	// given (for files that do not sit alone in one directory, such as one
	// schema's feature-log files). Set Spine or Spines, not both; every
	// file must have the same schema.
	Spines []string
	// SpineColumns names the spine columns carried into the output, kept
	// in the spine's column order. Nil (the default) keeps every spine
	// column, as a training set does; an empty non-nil slice keeps none.
	// Each name must be a top-level column of the spine, at most once. The
	// output's rows are the spine's rows in spine order either way; the
	// columns the join reads (keys, timestamp, request fields) need not be
	// kept, and a spine column not kept may have the name of a feature.
	SpineColumns []string
	// Out is the output Parquet file. It is written to a temporary file
	// beside it and renamed into place only on success.
	Out string
	// TimestampColumn is the spine's timestamp column. Default
	// "event_timestamp".
	TimestampColumn string
	// TTLOverride, if set, replaces every view's TTL (0: no TTL).
	TTLOverride *time.Duration
	// Workers is the parallelism. Default runtime.GOMAXPROCS(0).
	Workers int
	// MemoryLimit bounds the memory the join holds, in bytes. Default 1 GiB.
	MemoryLimit int64
	// TempDir holds spill files. Default os.TempDir().
	TempDir string
	// RowGroupSize is the output's rows per row group. Default 128Ki.
	RowGroupSize int64
	// Progress, if set, receives progress reports (from one goroutine at a
	// time).
	Progress func(Progress)
	// Now is the clock recorded in lineage. Default time.Now.
	Now func() time.Time
	// NoProfile skips the baseline profile (skewcheck/profile) otherwise
	// written beside Out as <Out>.profile.json. Default false.
	NoProfile bool
	// Strict fails the run, with a QualityError and no output file, on
	// the first output chunk (in spine order) that breaks a data-quality
	// gate of a requested feature. Default false: violations are recorded
	// in Stats.Violations and the profile's "expectations".
	Strict bool

	// joinPlan forces a join strategy and outputPath an output writer
	// (tests).
	joinPlan   joinPlan
	outputPath outputPath
}

// outputPath forces an output writer; tests use it to run both.
type outputPath int

const (
	outputAuto outputPath = iota // copy spine chunks where they fit
	outputRows                   // parquet-go, row by row or column by column
)

// Progress is a snapshot of a running backfill.
type Progress struct {
	Phase string // "scan spine", "scan VIEW", "join", "write"
	// Done and Total count rows (scan, write) or partitions (join).
	Done, Total int64
}

func (c *Config) ensureDefaults() {
	if c.TimestampColumn == "" {
		c.TimestampColumn = "event_timestamp"
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.MemoryLimit <= 0 {
		c.MemoryLimit = 1 << 30
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	if c.RowGroupSize <= 0 {
		c.RowGroupSize = 128 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	switch {
	case c.Snapshot == nil:
		return fmt.Errorf("%w: no registry snapshot", ErrConfig)
	case c.Service == "" && len(c.Features) == 0:
		return fmt.Errorf("%w: name a feature service or features", ErrConfig)
	case c.Service != "" && len(c.Features) > 0:
		return fmt.Errorf("%w: name a feature service or features, not both", ErrConfig)
	case c.Spine == "" && len(c.Spines) == 0:
		return fmt.Errorf("%w: no spine", ErrConfig)
	case c.Spine != "" && len(c.Spines) > 0:
		return fmt.Errorf("%w: Spine %q and Spines: set one, not both", ErrConfig, c.Spine)
	case c.Out == "":
		return fmt.Errorf("%w: no output file", ErrConfig)
	case c.MemoryLimit < 16<<20:
		return fmt.Errorf("%w: memory limit %d bytes is below the 16 MiB minimum", ErrConfig, c.MemoryLimit)
	case c.TTLOverride != nil && *c.TTLOverride < 0:
		return fmt.Errorf("%w: negative TTL override %s", ErrConfig, *c.TTLOverride)
	}
	for i, f := range c.Spines {
		if f == "" {
			return fmt.Errorf("%w: Spines[%d] is empty", ErrConfig, i)
		}
	}
	for i, n := range c.SpineColumns {
		if j := slices.Index(c.SpineColumns[:i], n); j >= 0 {
			return fmt.Errorf("%w: SpineColumns[%d] %q repeats SpineColumns[%d]", ErrConfig, i, n, j)
		}
	}
	return nil
}

// Stats describes a finished backfill.
type Stats struct {
	// Rows is the number of output (spine) rows.
	Rows int64
	// Columns are the feature columns written, in order.
	Columns []string
	// Nulls counts null values per feature column.
	Nulls map[string]int64
	// NullRowsByView counts, per view, spine rows with no value for it
	// (every requested feature of the view null).
	NullRowsByView map[string]int64
	// SourceRows counts source rows read, per view.
	SourceRows map[string]int64
	// Plans names, per view, how it was joined: "broadcast" (the source
	// streamed past the spine held in memory) or "spill" (both partitioned
	// to disk by key and sort-merged).
	Plans map[string]string
	// Partitions is the number of hash partitions the spill path used (0
	// when every view was broadcast).
	Partitions int
	Elapsed    time.Duration
	// Phases times each phase: "scan" (spine and sources, spilled), "join"
	// (per-partition sort-merge) and "write" (assembly and output).
	Phases map[string]time.Duration
	// PeakRSS is the process's peak resident set size, in bytes, where the
	// platform reports it (0 otherwise).
	PeakRSS int64
	// Profile is the path of the baseline profile written beside Out
	// (empty with NoProfile).
	Profile string
	// Violations are the data-quality gates the training set broke (per
	// column and rule, combined over output chunks; see quality.go), as
	// recorded in the profile; nil when none (always nil with Strict).
	Violations []profile.ExpectationResult
}
