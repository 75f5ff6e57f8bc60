package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd's process when the test process
// dies, so that a test binary killed by `go test -timeout` or a signal,
// whose t.Cleanup never runs, leaves no redis-server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
