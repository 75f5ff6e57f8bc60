// Package bench holds fstore's larger benchmark scenarios as Config + Run
// functions that both `go test -bench` and `fstore bench` drive, so the
// numbers in the README come from the same code as the CI-sized runs.
package bench
