package replay

import "errors"

var (
	// ErrConfig is matched by errors in a Config: no log directory, no
	// snapshot resolver, since after until, a negative limit.
	ErrConfig = errors.New("replay: invalid configuration")
	// ErrNoLogs is matched when the log directory holds no published log
	// file with requests in [Since, Until]; a replay of nothing is never
	// reported as zero mismatches.
	ErrNoLogs = errors.New("replay: no log files")
	// ErrLog is matched by errors in the logs that make a replay
	// impossible: a logged feature the recorded registry version does not
	// define, a row the offline engine returned out of order (its
	// request_ts is not the logged one) or a row count other than logged.
	ErrLog = errors.New("replay: bad log")
)
