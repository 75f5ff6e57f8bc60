package report

import "errors"

// ErrWrite is matched by errors writing the page to its io.Writer.
var ErrWrite = errors.New("report: cannot write the HTML page")
