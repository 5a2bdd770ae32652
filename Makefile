# Gatehouse make targets. `make test` is what CI runs (via .ci/run).

GO        ?= go
BIN       := bin/gatehouse
# FUZZTIME, when set (e.g. 30s or 500000x), replaces each target's own budget.
FUZZTIME  ?=
LONGFUZZ  ?= 5m
# The soak: how long clients churn, and how many are connected at a time.
SOAK_DURATION ?= 60s
SOAK_CONNS    ?= 3000

# Fuzz targets as package:Function:budget. The budget is a count of
# executions, about 10 s each on a 2-core machine, not a duration: with a
# duration, Go 1.26's fuzz coordinator may fail a run at its deadline with a
# bare "context deadline exceeded" and no failing input when the machine is
# loaded (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
FUZZ_TARGETS := \
	./internal/gatewayconfig:FuzzParse:25000x \
	./internal/engineio:FuzzDecodePayload:70000x \
	./internal/engineio:FuzzDecodePacket:100000x \
	./internal/socketio:FuzzDecode:150000x \
	./internal/socketio:FuzzObjectMember:250000x

.PHONY: all build examples docs run test vet unit edge-short soak-short soak fuzz-short fuzz e2e e2e-deps edge bench image image-test clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/gatehouse

# The examples' binaries, exercised by the end-to-end suite.
examples:
	$(GO) build -o bin/gatehouse-plugin ./examples/plugin
	$(GO) build -o bin/webhook-backend ./examples/webhook/backend
	$(GO) build -o bin/authorizer-backend ./examples/authorizer/backend
	$(GO) build -o bin/gatehouse-faulty ./e2e/faulty

## docs: rewrite docs/config.md's reference tables (Key, Type, Default) from the tags of internal/gatewayconfig/types.go and of the built-in guards' and handlers' options.
docs:
	$(GO) run ./internal/schema/gendocs docs/config.md

run: build
	./$(BIN) run --config gateway.yaml

## test: everything CI checks: vet, unit tests with the race detector, a short soak, a short fuzz run, end-to-end tests.
test: vet unit edge-short soak-short fuzz-short e2e

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1)

unit:
	@command -v redis-server >/dev/null || echo "note: redis-server is not on PATH, so the Redis tests are skipped (with CI set they fail); apt-get install redis-server"
	$(GO) test -race -count=1 ./...

# The soak cannot run under the race detector (too many goroutines), so it
# runs on its own: 10 s with 2000 clients here, a minute with `make soak`.
soak-short:
	$(GO) test -count=1 -run=Soak ./internal/soak -soak.duration=10s -soak.conns=2000

## soak: thousands of clients churning for SOAK_DURATION; fails on leaked goroutines or heap.
soak:
	$(GO) test -count=1 -v -timeout=30m -run=Soak ./internal/soak -soak.duration=$(SOAK_DURATION) -soak.conns=$(SOAK_CONNS)

fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; budget=$${rest#*:}; \
		budget=$${FUZZTIME:-$$budget}; \
		echo "fuzz $$pkg $$fn ($$budget)"; \
		$(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$$budget $$pkg; \
	done

## fuzz: the same targets for longer (LONGFUZZ each).
fuzz:
	$(MAKE) fuzz-short FUZZTIME=$(LONGFUZZ)

e2e-deps:
	cd e2e && npm ci --no-audit --no-fund

e2e: build examples e2e-deps
	cd e2e && GATEHOUSE_BIN=$(CURDIR)/$(BIN) npm test

## playground-assets: copy the socket.io-client browser bundle (and its license) that the end-to-end suite
## installs into the playground's embedded assets; a unit test and the browser test check they match.
.PHONY: playground-assets
playground-assets:
	test -d e2e/node_modules || $(MAKE) e2e-deps
	cp e2e/node_modules/socket.io-client/dist/socket.io.min.js internal/playground/assets/socket.io.min.js
	cp e2e/node_modules/socket.io-client/LICENSE internal/playground/assets/socket.io-client.LICENSE

## edge: the attack tests of the edge budget with many clients at once (GATEHOUSE_EDGE_LONG); each
## measures what the gateway holds. Add a package's tests to EDGE_TESTS/EDGE_PKGS.
EDGE_TESTS ?= TestBinaryPacket|TestEventsPipelined|TestEventsBeforeASlowOnConnect|TestEventsRefusedByACheapGuard|TestTricklingBodies|TestUnfinishedMessagesHold|TestRecover|TestForgedRecovery|TestRoomHistory
EDGE_PKGS  ?= ./internal/gateway ./internal/engineio
# The same attack tests with few clients and without the race detector, which
# slows the gateway's reads so much that some heap measurements skip under it.
edge-short:
	$(GO) test -count=1 -run '$(EDGE_TESTS)' $(EDGE_PKGS)

edge:
	GATEHOUSE_EDGE_LONG=1 $(GO) test -count=1 -v -timeout=30m -run '$(EDGE_TESTS)' $(EDGE_PKGS)

## bench: every load scenario against Gatehouse, the Node socket.io baseline, the Go socket.io peer and a bare loop; writes docs/benchmarks.md.
bench:
	GO=$(GO) bench/run.sh

## image: the container image (FROM scratch, non-root) from a static binary compiled here, with
## deploy/container/Containerfile.prebuilt; the repository's Containerfile builds the same image in a golang
## builder stage where that base image can be pulled.
IMAGE  ?= localhost/gatehouse:dev
PODMAN ?= podman --storage-driver vfs
image:
	rm -rf bin/image && mkdir -p bin/image
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/image/gatehouse ./cmd/gatehouse
	cp /etc/ssl/certs/ca-certificates.crt deploy/container/passwd deploy/container/group gateway.yaml bin/image/
	$(PODMAN) build -q -f deploy/container/Containerfile.prebuilt -t $(IMAGE) bin/image

## image-test: builds the image, checks its contents (static binary, CA bundle, non-root user) and runs it:
## readiness on /readyz, a client's ack, SIGTERM drain to exit 0.
image-test: image
	cd e2e && (test -d node_modules || npm ci --no-audit --no-fund) && GATEHOUSE_IMAGE=$(IMAGE) GATEHOUSE_PODMAN="$(PODMAN)" node --test --test-timeout=120000 test/image.test.js

clean:
	rm -rf bin e2e/node_modules bench/peers/node/node_modules
