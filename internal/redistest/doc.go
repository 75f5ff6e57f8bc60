// Package redistest starts real redis-server processes for tests: a single
// node (StartServer) or a Redis Cluster (StartCluster), on free loopback
// ports, with no persistence, in the test's temporary directory.
//
// Every process is killed by its pid, and waited for, in a t.Cleanup, so
// none outlives its test even when the test fails; on Linux the kernel also
// kills it if the test process dies without running its cleanups (a
// `go test -timeout` panic, a signal). Each server's stdout and
// stderr go to a log file in the temporary directory, whose tail is quoted
// in failure messages.
//
// Without redis-server on PATH the test is skipped, or fails when the
// environment sets FSTORE_REQUIRE_REDIS=1 (as CI does, so that the Redis
// tests cannot silently stop running); `make redis` installs it.
package redistest
