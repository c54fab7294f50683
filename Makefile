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

.PHONY: all build build-notailnet demo test deps deps-run lint unit fuzz fuzz-short bench bench-ingest bench-agent bench-store soak clean package package-libchdb ui e2e screenshots

all: build

build: ui
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/hostflow ./cmd/hostflow

# The binary without the embedded tailnet node (about 13 MB smaller stripped).
build-notailnet: ui
	$(GO) build -tags notailnet -ldflags '$(LDFLAGS)' -o bin/hostflow-notailnet ./cmd/hostflow

# The web console (console/web, Vite) built into console/ui/dist, which
# go build embeds; rebuilt only when its sources change.
UI_SRC := $(shell find console/web/src console/web/index.html console/web/package.json \
	console/web/package-lock.json console/web/vite.config.ts console/web/tsconfig.json -type f 2>/dev/null)
ui: console/ui/dist/index.html

console/ui/dist/index.html: $(UI_SRC)
	@[ -d console/web/node_modules ] && [ ! console/web/package-lock.json -nt console/web/node_modules ] || \
	  (cd console/web && npm ci --no-audit --no-fund --loglevel=error)
	cd console/web && npm run build

# Console unit tests (vitest) and browser tests (Chromium over a fixture
# server with a real embedded store), console/e2e.
e2e: ui
	cd console/web && npm run test:unit && npm run test:e2e

# docs/screenshots/*.png of every console page over the e2e fixture.
screenshots: ui
	cd console/web && npm run screenshots

# Set up, build (console included) and run standalone with the embedded
# store under var/demo and real demo traffic in a network namespace (root).
# Ctrl-C stops it and removes the namespace; the data stays for next time.
demo:
	@test "$$(id -u)" = 0 || { echo "make demo needs root (network namespace, packet sampling): sudo make demo" >&2; exit 1; }
	$(MAKE) deps-run build
	mkdir -p var/demo
	./bin/hostflow standalone --demo-traffic --data ./var/demo

# Set up every test dependency, then lint, unit + integration tests, short fuzzing,
# console browser tests.
test: deps lint unit fuzz-short e2e

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
	$(GO) test -count=1 -tags notailnet ./tailnet/ ./internal/roles/

# Every fuzz target for FUZZTIME each (make fuzz FUZZTIME=5m for a long run).
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

fuzz-short:
	scripts/fuzz.sh 3s

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Side-by-side benchmarks (root; bounded in time; see docs/benchmarks.md).
bench-ingest:
	bench/ingest.sh

bench-agent:
	bench/agent-overhead.sh

bench-store:
	$(GO) build -o bin/storebench ./bench/store && taskset -c 1 bin/storebench -rows 5000000

# The collector through overload, a store outage, kill -9 and an agent
# losing it, with a table of the results (root, loopback, ~5 minutes; see
# docs/operations.md).
soak: build
	$(GO) run ./bench/soak -hostflow bin/hostflow

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
