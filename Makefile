# mlecs build, test and run targets. Everything runs on a fresh machine with Go 1.26.
GO      ?= go
BIN     := bin/mlecs
DATA    ?= ../shared/data
OUT     ?= out
# Packages whose tests fit under the race detector within CI time.
RACE_PKGS ?= ./training/... ./storage/... ./node/...

.PHONY: all build build-arm64 test test-race lint bench run fmt clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN) ./cmd/mlecs

build-arm64:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -o /dev/null ./...

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...

test: lint build build-arm64
	$(GO) test -count=1 -p 1 -timeout 30m ./...
	$(GO) test -count=1 -race -short -timeout 20m $(RACE_PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

# run: the most complete end-to-end job that exists (see README).
run: build
	./scripts/run.sh "$(DATA)" "$(OUT)"

clean:
	rm -rf bin $(OUT)

# Docker testnet (testnet/README.md): a pinned anchor, a standby anchor and four edges, each the static
# binary in a FROM-scratch image, on a private docker network. testnet-test runs the fault checks and
# always tears the net down.
.PHONY: testnet testnet-down testnet-test
testnet: build
	./testnet/up.sh

testnet-down:
	./testnet/down.sh

testnet-test: build
	./testnet/test.sh

# soak: ML-ECS (tiny preset, real emoji subset) for SOAK_ROUNDS rounds over an in-process loopback
# mesh, sampling RSS, goroutines and open fds after every round; fails when a least-squares slope after
# warm-up exceeds its threshold (node/soak). Prints the table, writes $(OUT)/soak/soak.csv and soak.png.
# 300 rounds (the issue asks for at least 200): Badger's compactions make disk and mapped memory a sawtooth
# of about 120 rounds, and a fit must span whole cycles to measure a trend rather than a phase.
SOAK_ROUNDS ?= 300
.PHONY: soak
soak:
	MLECS_SOAK_ROUNDS=$(SOAK_ROUNDS) MLECS_SOAK_OUT=$(abspath $(OUT))/soak nice -n 10 $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 150m ./node/soak/
