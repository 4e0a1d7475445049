#!/usr/bin/env bash
# Runs the UA parser / bot list comparison behind collector/useragent's
# choice of libraries (RESULTS.md), then the layered classifier's report
# and benchmarks of issue 12 (BENCHMARKS.md, "Traffic you can trust").
# Takes about five minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")"

# The legacy corpus is crawlerdetect's testdata, read from the module cache.
go mod download github.com/x-way/crawlerdetect

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(go version), $(nproc) cores"
go test -count=1 -run '^TestAccuracyReport$' -v .
go test -count=1 -run '^TestLayersReport$' -v .
go test -count=1 -run '^$' -bench . -benchmem "$@" .
