//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing where the kernel cannot kill a child with its
// parent: there, only t.Cleanup stops the servers.
func dieWithParent(*exec.Cmd) {}
