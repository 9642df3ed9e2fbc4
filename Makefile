# hubble-applianceapi — `make help` lists the targets.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

VERSION ?= 0.1.0
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN     := bin/hubble-applianceapi
NFPM    := go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

.PHONY: help build test lint bench bench-smoke demo demo-stop deb fuzz faults clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the static binary into bin/
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hubble-applianceapi

test: ## the whole suite, as CI runs it (installs prerequisites if missing)
	bash scripts/test.sh

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench: build ## backup/restore vs pg_dump -Fd -j2 / pg_restore -j2: 5 pairs on 0.25, 1, 1.2 GB (one table) + scaling (BENCH_FLAGS=)
	go run ./tools/bench --bin $(BIN) --dir .bench $(BENCH_FLAGS)

bench-smoke: build ## a small run of the benchmark, every table of it (what CI runs)
	go run ./tools/bench --bin $(BIN) --dir $$(mktemp -d) --cleanup --sets 16,big8 --pairs 2 \
	  --scale-sizes 8,16 --scale-j 1,2 --scale-set 16

demo: build ## start the service on a local demo database (see README; DEMO_PORT, DEMO_PG_PORT)
	bash scripts/demo.sh

demo-stop: ## stop the demo's PostgreSQL if it was left running (DEMO_DIR, default .demo)
	go run ./tools/devcluster stop --dir $${DEMO_DIR:-.demo}/pg

deb: build ## build the Debian package into dist/
	mkdir -p dist
	VERSION=$(VERSION) $(NFPM) pkg --packager deb --config etc/nfpm.yaml --target dist/

faults: ## the fault-injection suite, long part (FAULTS_N=200 runs of kill -9 and cancel; FAULTS_SEED to reproduce); figures in docs/RELIABILITY.md
	go test ./e2e -count=1 -v -timeout 6h -run '^TestFaults_' -faults.n=$${FAULTS_N:-200} \
	  $${FAULTS_SEED:+-faults.seed=$$FAULTS_SEED} $${FAULTS_STRICT:+-faults.strict} -faults.report=$${FAULTS_REPORT:-$(CURDIR)/faults-report.md} \
	  | grep -v 'level=' ; test $${PIPESTATUS[0]} -eq 0

fuzz: ## run every fuzzer for FUZZTIME (default 30s) each
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    go test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; \
	  done; \
	done

clean: ## remove build outputs
	rm -rf bin dist
