#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs missing prerequisites, then
# formatting, vet, staticcheck, every test with the race detector against a
# real PostgreSQL (each test binary starts its own throwaway cluster unless
# HUBBLE_TEST_DSN is set) and a real S3 server (SeaweedFS, built from its Go
# module on first use and cached), and a small smoke run of the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
bash scripts/deps.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt'ed: $unformatted" >&2; exit 1; fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "== SeaweedFS for the S3 tests (built once from its Go module, then cached)"
go run ./tools/weedbuild
echo "== go test -race"
# Test artifacts (the console's screenshots) are kept under test-artifacts/.
rm -rf test-artifacts && mkdir -p test-artifacts
go test -race -count=1 -timeout 60m -artifacts -outputdir "$PWD/test-artifacts" ./...
echo "== bench smoke"
make bench-smoke
echo "== all tests passed"
