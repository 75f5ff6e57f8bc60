package featurelog

import "errors"

var (
	// ErrOptions is matched by errors in Options (Open) and in a Schema
	// (NewSchema): a missing directory, a negative limit, a bad name.
	ErrOptions = errors.New("featurelog: invalid options")
	// ErrFormat is matched by errors reading a log file that is not a
	// valid feature log: unreadable Parquet, missing or bad metadata, an
	// unknown format version, a missing column or one of the wrong type.
	ErrFormat = errors.New("featurelog: bad log file")
	// ErrClosed is returned by Flush and Close on a closed Logger.
	ErrClosed = errors.New("featurelog: logger closed")
)

// formatError is a problem with a log file; it names the file and matches
// ErrFormat.
type formatError struct {
	path string
	msg  string
}

func (e *formatError) Error() string        { return "featurelog: " + e.path + ": " + e.msg }
func (e *formatError) Is(target error) bool { return target == ErrFormat }
