# ferry's build. `make demo` runs the main job end to end; `make test` runs
# every test (unit, integration against an in-process registry, end to end
# against a registry process).
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/ferryhq/ferry/internal/cli.Version=$(VERSION)
BIN      := bin/ferry

.PHONY: build test test-short lint golangci-lint fmt-check tidy-check vet fuzz bench soak demo clean shellcheck image-check docs docs-check

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ferry

# go vet (all of it) and golangci-lint are make lint's, which CI runs before
# make test; go test's own vet pass over the race-instrumented packages and
# all their dependencies would repeat a subset of it (-vet=off: 30 s of CPU
# from an empty build cache). The e2e tests spend most of their time
# waiting on processes, timeouts and backoff: four at a time.
test: fmt-check
	$(GO) test -race -vet=off -parallel 4 -timeout 9m ./...

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

tidy-check:
	$(GO) mod tidy -diff

# golangci-lint v2 (.golangci.yml says why each linter is on); .ci/run installs
# the pinned version with go install.
GOLANGCI_LINT ?= $(shell command -v golangci-lint 2>/dev/null || echo $$($(GO) env GOPATH)/bin/golangci-lint)
golangci-lint:
	$(GOLANGCI_LINT) run ./...

lint: fmt-check vet tidy-check docs-check golangci-lint

# The command reference, one Markdown page per command, generated from the
# command tree (internal/cli/docgen). docs-check fails when docs/cli is not
# what the commands generate: run make docs and commit.
docs:
	rm -rf docs/cli
	$(GO) run ./internal/cli/docgen -dir docs/cli

docs-check:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) run ./internal/cli/docgen -dir "$$tmp" && \
	if ! diff -ru docs/cli "$$tmp" >/dev/null; then \
		diff -ru docs/cli "$$tmp" | head -40; echo "docs/cli is out of date: run make docs and commit"; exit 1; fi

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseReference$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./pkg/index/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./pkg/index/
	$(GO) test -run '^$$' -fuzz '^FuzzUnpack$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./pkg/install/
	$(GO) test -run '^$$' -fuzz '^FuzzMirrorListing$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/http/mirror/
	$(GO) test -run '^$$' -fuzz '^FuzzRulesRequirements$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./pkg/oci/
	$(GO) test -run '^$$' -fuzz '^FuzzDriverFileName$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./pkg/driver/

# Go benchmarks of the hot paths (GOBENCH selects them), then the
# end-to-end table (scripts/bench, with the BIG_INDEX-entry index case of
# scripts/bench-bigindex in it; RUNS, LARGE_MB, SMALL, TAGS, GROUP,
# FOLLOWERS, BIG_INDEX and the others in its header tune it).
GOBENCH ?= .
bench: build
	$(GO) test -run '^$$' -bench '$(GOBENCH)' -benchmem ./pkg/...
	./scripts/bench

# Crash and concurrency soak (not part of test): kill -9 ferry at random
# points of SOAK_ITERATIONS installs, then rounds of 10 concurrent installs;
# after each, no torn file and a state that matches the disk.
SOAK_ITERATIONS ?= 100
soak: build
	$(GO) run ./scripts/soak -ferry $(BIN) -iterations $(SOAK_ITERATIONS)

# ferry and the registry process the demo starts, in one go build with the
# same flags, so that the packages they share (the standard library among
# them) compile once on a fresh machine.
demo:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/ferry ./scripts/registry
	REGISTRY_BIN=$(CURDIR)/bin/registry ./scripts/demo

# Every shell script under scripts/ (needs shellcheck: apt-get install -y shellcheck).
SHELL_SCRIPTS = $(shell grep -lE '^\#!(/usr/bin/env |/bin/)(ba)?sh' $$(find scripts -maxdepth 1 -type f))
shellcheck:
	shellcheck $(SHELL_SCRIPTS)

# What can be checked of the image without a container engine: a static,
# stripped binary, a Dockerfile whose COPY sources exist, and whose layout
# is the offline build's (make image).
image-check: build
	$(GO) run ./scripts/imagecheck -binary $(BIN) -dockerfile Dockerfile -context .

# The image built offline with podman (scripts/image): the layout the
# Dockerfile describes, from this machine's files, tagged $(IMAGE):$(TAG) and
# $(IMAGE):$(TAG)-falcoctl (entrypoint falcoctl, for Falco's chart).
IMAGE ?= localhost/ferry
TAG   ?= $(VERSION)
.PHONY: image
image: build
	BIN=$(BIN) IMAGE=$(IMAGE) TAG=$(TAG) GO=$(GO) ./scripts/image

clean:
	rm -rf bin .demo .bench .bench-bigindex .soak
