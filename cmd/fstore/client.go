package main

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/fstore/fstore/featurestore"
	fstorev1 "github.com/fstore/fstore/proto/fstore/v1"
	"github.com/fstore/fstore/serve"
)

// registryClient returns a registry API client and a function that releases
// it. With --server it dials that server; otherwise it opens the data
// directory, and if a running server holds it, dials the address that
// server recorded there.
func (g *globals) registryClient(ctx context.Context) (fstorev1.RegistryServiceClient, func() error, error) {
	st, conn, err := g.localOrServer()
	if err != nil {
		return nil, nil, err
	}
	if st != nil {
		return serve.NewLocalRegistryClient(st.Registry()), st.Close, nil
	}
	return fstorev1.NewRegistryServiceClient(conn), conn.Close, nil
}

// localOrServer opens the data directory, or, with --server or when a
// running server holds the directory, connects to that server: exactly one
// of the results is non-nil on success.
func (g *globals) localOrServer() (*featurestore.Store, *grpc.ClientConn, error) {
	if g.server != "" {
		conn, err := dialConn(g.server)
		return nil, conn, err
	}
	st, err := featurestore.Open(g.dataDir, nil)
	if err == nil {
		return st, nil, nil
	}
	if !errors.Is(err, featurestore.ErrLocked) {
		return nil, nil, err
	}
	addr, aerr := featurestore.AdvertisedServer(g.dataDir)
	if aerr != nil || addr == "" {
		return nil, nil, err
	}
	g.note("(%s is in use by fstore serve; sending the command to it at %s)", g.dataDir, addr)
	conn, err := dialConn(addr)
	return nil, conn, err
}

// dialConn connects to an fstore server's gRPC address. Requests carry
// model artifacts, so the size limit is raised from gRPC's 4 MiB.
func dialConn(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxMessageSize)))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to fstore server %s: %w", addr, err)
	}
	return conn, nil
}

// maxMessageSize bounds one gRPC message the CLI sends: the server accepts
// as much (serve.MaxGRPCMessage).
const maxMessageSize = serve.MaxGRPCMessage

// withRegistry runs f with a registry client and a context bounded by
// callTimeout, and releases the client after.
func (g *globals) withRegistry(ctx context.Context, f func(context.Context, fstorev1.RegistryServiceClient) error) error {
	return withClient(ctx, func() (fstorev1.RegistryServiceClient, func() error, error) { return g.registryClient(ctx) }, f)
}

// withClient opens a client, runs f with it under a context bounded by
// callTimeout, and releases it.
func withClient[C any](ctx context.Context, open func() (C, func() error, error), f func(context.Context, C) error) error {
	client, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return f(ctx, client)
}

// print writes m as JSON with -o json, and calls table otherwise.
func (g *globals) print(m proto.Message, table func()) error {
	if g.output == "json" {
		return printJSON(g.stdout, m)
	}
	table()
	return nil
}
