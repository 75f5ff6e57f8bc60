package backfill

import "errors"

var (
	// ErrConfig is matched by errors in the Config (unknown features,
	// missing spine, bad limits).
	ErrConfig = errors.New("backfill: invalid configuration")
	// ErrInput is matched by errors in the input data: unreadable or
	// corrupt Parquet, missing columns, wrong column types.
	ErrInput = errors.New("backfill: bad input")
	// ErrQuality is matched by a Strict backfill's failure on a
	// data-quality gate (a QualityError).
	ErrQuality = errors.New("backfill: data-quality gate failed")
)
