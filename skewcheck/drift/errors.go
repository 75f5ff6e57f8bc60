package drift

import "errors"

var (
	// ErrInvalidBaseline is matched by errors from a baseline that cannot
	// be compared against: NaN or unsorted edges, probabilities that do not
	// sum to one, a negative count, a null fraction outside [0, 1].
	ErrInvalidBaseline = errors.New("drift: invalid baseline")
	// ErrInvalidThresholds is matched by errors from thresholds that cannot
	// work, such as a warn level above its alert level or α outside (0, 1).
	ErrInvalidThresholds = errors.New("drift: invalid thresholds")
	// ErrInvalidOptions is returned by NewMonitor for options that fail
	// Validate.
	ErrInvalidOptions = errors.New("drift: invalid options")
	// ErrInvalidSubject is matched by errors registering a subject: an
	// unknown kind, an empty or duplicate name, a feature without exactly
	// one baseline or whose baseline does not suit its type.
	ErrInvalidSubject = errors.New("drift: invalid subject")
	// ErrClosed is returned by Register after Close.
	ErrClosed = errors.New("drift: monitor closed")
	// ErrInvalidReport is matched by errors from DecodeReport for input
	// that is not a report this package wrote.
	ErrInvalidReport = errors.New("drift: invalid report")
)
