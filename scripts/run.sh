#!/usr/bin/env bash
# Runs the collector on this machine: installs and starts what it needs
# (Go toolchain, local ClickHouse, GeoLite2 data), builds it, and serves
# with the example sites file. Settings come from the environment (README).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_go
if [ -z "${CLICKHOUSE_URL:-}" ]; then ensure_clickhouse; fi
export GEOIP_DB=${GEOIP_DB:-$(ensure_geoip)}
export SITES_FILE=${SITES_FILE:-$ROOT/sites.example.json}
if [ -z "${ADMIN_PASSWORD:-}" ] && [ -z "${DEV:-}" ]; then
  # A local run without a password: the collector makes a random one and
  # logs it. Production sets ADMIN_PASSWORD (docker-compose requires it).
  export DEV=true
fi
log "building bin/collector"
go build -o bin/collector ./cmd/collector
log "collector on http://localhost${LISTEN_ADDR:-:8080} (sites: $SITES_FILE, GeoIP: $GEOIP_DB); Ctrl-C stops it"
exec bin/collector "$@"
