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
	if g.server != "" {
		return dial(g.server)
	}
	st, err := featurestore.Open(g.dataDir, nil)
	if err == nil {
		return serve.NewLocalRegistryClient(st.Registry()), st.Close, nil
	}
	if !errors.Is(err, featurestore.ErrLocked) {
		return nil, nil, err
	}
	addr, aerr := featurestore.AdvertisedServer(g.dataDir)
	if aerr != nil || addr == "" {
		return nil, nil, err
	}
	g.note("(%s is in use by fstore serve; sending the command to it at %s)", g.dataDir, addr)
	return dial(addr)
}

func dial(addr string) (fstorev1.RegistryServiceClient, func() error, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot connect to fstore server %s: %w", addr, err)
	}
	return fstorev1.NewRegistryServiceClient(conn), conn.Close, nil
}

// withRegistry runs f with a registry client and a context bounded by
// callTimeout, and releases the client after.
func (g *globals) withRegistry(ctx context.Context, f func(context.Context, fstorev1.RegistryServiceClient) error) error {
	client, done, err := g.registryClient(ctx)
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
