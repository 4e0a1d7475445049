#!/usr/bin/env bash
# Runs every test: installs and starts a local ClickHouse when none answers
# (integration tests use a real server, never a mock), then go test.
# Extra arguments go to go test, e.g. scripts/test.sh -run Privacy ./cmd/...
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_go
ensure_clickhouse
ensure_chromium
ensure_chdb
apt_install strace   # the fault tests slow the spool down with it
apt_install nginx    # the load-balancer test puts it in front of three collectors
if [ $# -eq 0 ]; then set -- ./...; fi
go test -race -count=1 "$@"
