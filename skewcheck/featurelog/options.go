package featurelog

import (
	"fmt"
	"log/slog"
	"time"
)

// Options configures a Logger. Dir is required; every other field has a
// default, applied by EnsureDefaults.
type Options struct {
	// Dir is the destination: files go under Dir/<service>/. It need not
	// exist or be writable at Open; the writer creates it and keeps
	// retrying while it cannot write there. Required.
	Dir string
	// QueueRows bounds the rows submitted but not yet written, held in
	// memory; a batch that would exceed it is dropped and counted.
	// Default 65536.
	QueueRows int
	// MaxFileBytes rotates a file once its size (written, plus an estimate
	// of the rows buffered for its next row group) reaches it. Default
	// 64 MiB.
	MaxFileBytes int64
	// MaxFileAge bounds how long after its first row a file is published
	// (closed and renamed into place). Default 1 minute.
	MaxFileAge time.Duration
	// RowGroupRows is the rows per Parquet row group. Default 16384.
	RowGroupRows int
	// MaxOpenFiles bounds the files open at once, one per schema (a
	// service's own rows and each model's rows on it, per registry
	// version): opening one more first publishes the least recently
	// written. Default 16.
	MaxOpenFiles int
	// Logger receives write errors (at most one line every 10 s). Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock used for file names, MaxFileAge and retry backoff.
	// Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills in the zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.QueueRows == 0 {
		o.QueueRows = 65536
	}
	if o.MaxFileBytes == 0 {
		o.MaxFileBytes = 64 << 20
	}
	if o.MaxFileAge == 0 {
		o.MaxFileAge = time.Minute
	}
	if o.RowGroupRows == 0 {
		o.RowGroupRows = 16384
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = 16
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports options that cannot work; errors match ErrOptions.
func (o *Options) Validate() error {
	switch {
	case o.Dir == "":
		return fmt.Errorf("%w: Dir is required", ErrOptions)
	case o.QueueRows < 0:
		return fmt.Errorf("%w: QueueRows %d is negative", ErrOptions, o.QueueRows)
	case o.MaxFileBytes < 0:
		return fmt.Errorf("%w: MaxFileBytes %d is negative", ErrOptions, o.MaxFileBytes)
	case o.MaxFileAge < 0:
		return fmt.Errorf("%w: MaxFileAge %s is negative", ErrOptions, o.MaxFileAge)
	case o.RowGroupRows < 0:
		return fmt.Errorf("%w: RowGroupRows %d is negative", ErrOptions, o.RowGroupRows)
	case o.MaxOpenFiles < 0:
		return fmt.Errorf("%w: MaxOpenFiles %d is negative", ErrOptions, o.MaxOpenFiles)
	}
	return nil
}
