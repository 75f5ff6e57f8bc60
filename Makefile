# fstore build, test and tooling. Every target works on a fresh machine with
# only Go installed; targets that need more (buf, redis-server, staticcheck)
# install it first.

GO      ?= go
GOBIN   := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

BUF_VERSION         ?= v1.75.0
STATICCHECK_VERSION ?= v0.8.2
FUZZTIME            ?= 30s
# Packages whose code starts goroutines or shares state run under -race.
TESTFLAGS           ?= -race -count=1

.PHONY: all build test quickstart proto proto-tools lint bench fuzz redis clean

all: build

## build: compile bin/fstore
build:
	$(GO) build -o bin/fstore ./cmd/fstore

## test: the whole suite (race detector on), after installing what it needs
test: proto-tools redis
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

## quickstart: generate the example, apply it, print the registry, build a training set
quickstart: build
	./bin/fstore quickstart --dir quickstart

## proto: regenerate the protobuf code under proto/ (committed)
proto: proto-tools
	buf lint
	buf generate

## proto-tools: install buf; the protoc plugins run through `go tool` at go.mod's versions
proto-tools:
	@command -v buf >/dev/null 2>&1 || { \
		echo "installing buf $(BUF_VERSION)"; \
		$(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION) || \
		echo "warning: cannot install buf: the generated-code freshness test will be skipped"; }

## redis: install redis-server (for the online-store tests) when missing
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "installing redis-server"; \
		if command -v apt-get >/dev/null 2>&1; then \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null || \
			echo "warning: apt-get could not install redis-server"; \
		else echo "warning: no apt-get: install redis-server yourself for the Redis tests"; fi; }

## lint: gofmt, go vet, staticcheck, buf lint
lint: proto-tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	staticcheck ./...
	buf lint

## bench: every Go benchmark, with allocations (compare runs with benchstat)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: run each fuzz target for FUZZTIME (default 30s)
fuzz:
	$(GO) test ./featurestore/registry -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/def -run '^$$' -fuzz '^FuzzParseFeatureRef$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compute -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./backfill -run '^$$' -fuzz '^FuzzDecodeSpill$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/encoding -run '^$$' -fuzz '^FuzzDecodeValue$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/encoding -run '^$$' -fuzz '^FuzzDecodeKey$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore -run '^$$' -fuzz '^FuzzDecodeJSONLines$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/redis -run '^$$' -fuzz '^FuzzParseURL$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/redis -run '^$$' -fuzz '^FuzzKeyLayout$$' -fuzztime $(FUZZTIME)
	$(GO) test ./serve -run '^$$' -fuzz '^FuzzGetOnlineFeaturesRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./serve -run '^$$' -fuzz '^FuzzPushRequest$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin quickstart fstore-data
