// Package serve runs fstore's network front: a gRPC server and a fasthttp
// HTTP server in one process, over one open data directory.
//
// The registry API is served over gRPC (fstore.v1.RegistryService) and,
// through grpc-gateway, as REST under /v1/registry. The gateway is mounted
// in-process (no loopback hop); server-streaming Watch is gRPC-only.
//
// Errors are mapped to gRPC codes and HTTP statuses in one place
// (errors.go), by errors.Is on the engine's sentinel errors, never by
// matching strings.
package serve
