#!/usr/bin/env bash
# Runs the UA parser / bot list comparison behind collector/useragent's
# choice of libraries. Prints the accuracy report, then the benchmarks.
# Takes about three minutes on 2 cores. RESULTS.md records a run.
set -euo pipefail
cd "$(dirname "$0")"

# The corpus is crawlerdetect's testdata, read from the module cache.
go mod download github.com/x-way/crawlerdetect

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(go version), $(nproc) cores"
go test -count=1 -run '^TestAccuracyReport$' -v .
go test -count=1 -run '^$' -bench . -benchmem "$@" .
