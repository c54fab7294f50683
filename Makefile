# hostflow — the two commands users need are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
# A release tag (v1.2.3 → 1.2.3), else 0.1.0~dev.<commit date>.<hash>: both
# valid Debian versions that sort in time order.
VERSION ?= $(shell v=$$(git describe --tags --exact-match 2>/dev/null) && echo $${v\#v} || \
	git log -1 --format='0.1.0~dev.%cd.%h' --date=format:%Y%m%d 2>/dev/null || echo 0.0.0~unknown)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 5s
TESTFLAGS ?=

.PHONY: all build demo test deps deps-run lint unit fuzz fuzz-short bench clean package package-libchdb

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

CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/hostflow

# hostflow_<version>_amd64.deb: binary, systemd units, example configs, docs.
package: build
	@test -x $(CACHE)/bin/nfpm || scripts/setup.sh test
	mkdir -p dist
	VERSION=$(VERSION) $(CACHE)/bin/nfpm package -f packaging/nfpm.yaml -p deb -t dist/

# hostflow-libchdb_<version>_amd64.deb: libchdb.so for the embedded store.
package-libchdb:
	@test -x $(CACHE)/bin/nfpm || scripts/setup.sh test
	mkdir -p dist
	CHDB_LIB=$$(cat $(CACHE)/chdb/current) CHDB_VERSION=26.7.3 \
	  $(CACHE)/bin/nfpm package -f packaging/nfpm-libchdb.yaml -p deb -t dist/

clean:
	rm -rf bin dist
