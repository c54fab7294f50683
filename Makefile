# hostflow — the two commands users need are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 5s
TESTFLAGS ?=

.PHONY: all build demo test deps deps-run lint unit fuzz fuzz-short bench clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/hostflow ./cmd/hostflow

# Set up, build and run standalone with the embedded store and the console.
demo: deps-run build
	./bin/hostflow standalone --demo-traffic

# Set up every test dependency, then lint, unit + integration tests, short fuzzing.
test: deps lint unit fuzz-short

deps:
	scripts/setup.sh test

deps-run:
	scripts/setup.sh run

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$$($(GO) env GOPATH)/bin/staticcheck ./...

unit:
	$(GO) test -count=1 -timeout 30m $(TESTFLAGS) ./...

# Every fuzz target for FUZZTIME each (make fuzz FUZZTIME=5m for a long run).
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

fuzz-short:
	scripts/fuzz.sh 3s

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
