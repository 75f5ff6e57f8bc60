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

.PHONY: all build test quickstart proto proto-tools lint bench fuzz redis chromium clean

all: build

## build: compile bin/fstore
build:
	$(GO) build -o bin/fstore ./cmd/fstore

## test: the whole suite (race detector on), after installing what it needs
## (buf, redis-server, chromium)
test: proto-tools redis chromium
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

QS_HTTP ?= 127.0.0.1:6566
QS_GRPC ?= 127.0.0.1:6570
QS_BODY  = {"feature_service": "driver_ranking", "entities": {"driver_id": [1001, 1002, 999999]}}
QS_PREDICT = {"model": "completion", "entities": {"driver_id": [1001, 1002, 1003], "rider_id": [7, 8, 9]}, "request_context": {"distance_km": [3.5, 12.0, 28.0], "surge": [1.0, 1.4, 2.0]}}
QS_INFER   = {"id": "quickstart", "inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 16], "data": [[0.62, 81.0, 4.7, 9, 210.5, 41.0, 6.1, 0.12, 140, 4.6, 4, 96.0, 0.05, 6.7, 0, 0.62], [0.21, 35.0, 4.1, 1, 18.0, 18.0, 14.2, 0.02, 3, 3.9, 1, 25.0, 0.6, 52.9, 1, 0.42]]}]}
QS_PUSH  = {"push_source_name": "trips_live", "to": "online", "df": {"trip_id": [900001], "driver_id": [1001], "rider_id": [7], "event_ts": ["2026-01-07 23:55:00"], "fare": [42.0], "completed": [true]}}

## quickstart: generate the example, apply it, build a training set, materialise it,
## train a model on the training set and register it, then start the server, fetch
## features with a Feast-shaped request through curl, push a live event, fetch
## again, predict through /v1/predict and the Open Inference Protocol, and stop
## the server
quickstart: build
	./bin/fstore quickstart --dir quickstart
	./bin/fstore train --dataset quickstart/train.parquet --label completed --model completion --arch mlp:32,16 --epochs 20 --seed 7
	@command -v curl >/dev/null 2>&1 || { echo "quickstart: curl is needed for the serving part"; exit 1; }
	@echo "==> fstore serve --http $(QS_HTTP) --grpc $(QS_GRPC) --as-of 2026-01-08T00:00:00Z"
	@./bin/fstore serve --http $(QS_HTTP) --grpc $(QS_GRPC) --as-of 2026-01-08T00:00:00Z --quiet & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	for i in $$(seq 1 100); do curl -sf http://$(QS_HTTP)/readyz >/dev/null && break; sleep 0.1; done; \
	printf '%s\n' '$(QS_BODY)' > quickstart/request.json; printf '%s\n' '$(QS_PUSH)' > quickstart/push.json; \
	echo "==> curl -X POST http://$(QS_HTTP)/get-online-features -d @quickstart/request.json"; cat quickstart/request.json; \
	curl -sS -X POST http://$(QS_HTTP)/get-online-features -H 'Content-Type: application/json' -d @quickstart/request.json || exit 1; echo; \
	echo "==> curl -X POST http://$(QS_HTTP)/push -d @quickstart/push.json"; cat quickstart/push.json; \
	curl -sS -X POST http://$(QS_HTTP)/push -H 'Content-Type: application/json' -d @quickstart/push.json || exit 1; echo; \
	echo "==> curl -X POST http://$(QS_HTTP)/get-online-features (driver_trips after the push)"; \
	curl -sS -X POST http://$(QS_HTTP)/get-online-features -d '{"features": ["driver_trips:trips_24h", "driver_trips:fare_max_24h"], "entities": {"driver_id": [1001]}}' || exit 1; echo; \
	printf '%s\n' '$(QS_PREDICT)' > quickstart/predict.json; printf '%s\n' '$(QS_INFER)' > quickstart/infer.json; \
	echo "==> curl -X POST http://$(QS_HTTP)/v1/predict -d @quickstart/predict.json (features fetched online, then the model)"; cat quickstart/predict.json; \
	curl -sS --fail-with-body -X POST http://$(QS_HTTP)/v1/predict -d @quickstart/predict.json || exit 1; echo; \
	echo "==> curl http://$(QS_HTTP)/v2/models/completion (Open Inference Protocol metadata)"; \
	curl -sS --fail-with-body http://$(QS_HTTP)/v2/models/completion || exit 1; echo; \
	echo "==> curl -X POST http://$(QS_HTTP)/v2/models/completion/infer -d @quickstart/infer.json"; cat quickstart/infer.json; \
	curl -sS --fail-with-body -X POST http://$(QS_HTTP)/v2/models/completion/infer -d @quickstart/infer.json || exit 1; echo; \
	echo "==> curl -X POST http://$(QS_HTTP)/v1/predict -d @quickstart/traffic.json (1000 trip requests from the spine: traffic for the drift monitor)"; \
	curl -sS --fail-with-body -o /dev/null -w 'HTTP %{http_code}\n' -X POST http://$(QS_HTTP)/v1/predict -d @quickstart/traffic.json || exit 1; \
	echo "==> fstore skew status (served features and predictions against the model's training set)"; \
	./bin/fstore skew status || exit 1; \
	echo "==> fstore skew report --html quickstart/skew.html"; \
	./bin/fstore skew report --html quickstart/skew.html || exit 1; \
	echo "==> stopping the server"

## proto: regenerate the protobuf code under proto/ (committed)
proto: proto-tools
	buf lint
	buf generate
	buf generate --template buf.gen.oip.yaml third_party/oip

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

## chromium: install headless Chromium (the skew report's browser test) when missing
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium"; \
		if command -v apt-get >/dev/null 2>&1; then \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null || \
			echo "warning: apt-get could not install chromium: the browser tests will be skipped"; \
		else echo "warning: no apt-get: install chromium yourself for the browser tests"; fi; }

## lint: gofmt, go vet, staticcheck, buf lint
lint: proto-tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	staticcheck ./...
	buf lint

## bench: every Go benchmark, with allocations (compare runs with benchstat),
## then this machine's stall floor and the feature server's load scenario over loopback
## (Pebble, 8 connections), each run replayed against a null server (--control)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	./bin/fstore bench stalls --duration 3s
	./bin/fstore bench serve --dir $${TMPDIR:-/tmp}/fstore-bench-serve --conns 8 --duration 4s --control

## fuzz: run each fuzz target for FUZZTIME (default 30s)
fuzz:
	$(GO) test ./featurestore/registry -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/def -run '^$$' -fuzz '^FuzzParseFeatureRef$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compute -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compute -run '^$$' -fuzz '^FuzzReadPlain$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compute -run '^$$' -fuzz '^FuzzOpenParquet$$' -fuzztime $(FUZZTIME)
	$(GO) test ./backfill -run '^$$' -fuzz '^FuzzDecodeSpill$$' -fuzztime $(FUZZTIME)
	$(GO) test ./skewcheck/profile -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/encoding -run '^$$' -fuzz '^FuzzDecodeValue$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/encoding -run '^$$' -fuzz '^FuzzDecodeKey$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore -run '^$$' -fuzz '^FuzzDecodeJSONLines$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/redis -run '^$$' -fuzz '^FuzzParseURL$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/redis -run '^$$' -fuzz '^FuzzKeyLayout$$' -fuzztime $(FUZZTIME)
	$(GO) test ./serve -run '^$$' -fuzz '^FuzzGetOnlineFeaturesRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./serve -run '^$$' -fuzz '^FuzzPushRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./serve -run '^$$' -fuzz '^FuzzInferRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./serve -run '^$$' -fuzz '^FuzzPredictRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compute/model -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/encoding -run '^$$' -fuzz '^FuzzDecodeColumns$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/redis -run '^$$' -fuzz '^FuzzParseMGet$$' -fuzztime $(FUZZTIME)
	$(GO) test ./featurestore/redis -run '^$$' -fuzz '^FuzzTrackerPush$$' -fuzztime $(FUZZTIME)
	$(GO) test ./serve -run '^$$' -fuzz '^FuzzAppendFloat$$' -fuzztime $(FUZZTIME)
	$(GO) test ./serve -run '^$$' -fuzz '^FuzzAppendTime$$' -fuzztime $(FUZZTIME)
	$(GO) test ./skewcheck/featurelog -run '^$$' -fuzz '^FuzzDecodeMeta$$' -fuzztime $(FUZZTIME)
	$(GO) test ./skewcheck/featurelog -run '^$$' -fuzz '^FuzzReadFile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./skewcheck/drift -run '^$$' -fuzz '^FuzzDecodeReport$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin quickstart fstore-data
