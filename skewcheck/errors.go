package skewcheck

import "errors"

// ErrBaseline: a baseline profile cannot serve as a feature's baseline
// (the feature is missing, has another type, or has no values).
var ErrBaseline = errors.New("skewcheck: unusable baseline")
