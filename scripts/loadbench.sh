#!/usr/bin/env bash
# Load benchmark, side by side, in one run on this machine:
#   1. nginx empty_gif, one worker        (the ceiling)
#   2. the same GIF from a bare Fiber handler
#   3. the real collector: GeoLite2, user agents, bot check, consent,
#      uniques, aggregation, flushes to ClickHouse (fresh database)
# Each server is pinned to one core and the load generator to the other
# (taskset), so a server's rate is its rate on one core. For each server: a
# closed-loop saturation run finds its maximum rate, then an open-loop run
# at half of it measures p50/p99 from each request's due time; the two
# ceilings also run open loop at the collector's rate. The
# collector's totals in ClickHouse are then checked against what it
# accepted, and (full mode) a CPU profile of the collector under load is
# taken from a build with net/http/pprof added by go build -overlay.
#
#   scripts/loadbench.sh                  full run, ~11 minutes on a quiet machine
#   LOADBENCH_QUICK=1 scripts/loadbench.sh   smoke run, < 60 s once built
#
# Settings (environment):
#   LOADBENCH_OUT          results directory (default /tmp/loadbench-DATE)
#   LOADBENCH_ROUNDS       rounds (default 3, quick 1): the servers are
#                          measured in turn, round after round, and the
#                          report gives the median over rounds
#   LOADBENCH_WARMUP, LOADBENCH_SATURATION, LOADBENCH_OPEN   durations
#   LOADBENCH_CONNS        keep-alive connections (default 64)
#   LOADBENCH_SERVER_CPU, LOADBENCH_LOADGEN_CPU   cores (default 0 and 1)
#   LOADBENCH_NICE         priority of everything started and of this
#                          script's autogroup (default -20 as root, so that
#                          other work on the machine disturbs less; not
#                          SCHED_FIFO: a Go server pinned to one core can
#                          livelock under it, its threads never yielding)
#   LOADBENCH_QUIET_WAIT   seconds to wait for an idle machine first
#                          (default 300, quick 0)
#   LOADBENCH_RETRIES      repeats of a run during which other processes
#                          used more than LOADBENCH_MAX_OTHER cores
#                          (default 0.1); default 1, quick 0
#   LOADBENCH_COLLECTOR_FLAGS   extra collector flags (to raise limits)
#   LOADBENCH_PROFILE      0/1: CPU profile of the collector (full: 1)
# Only loopback addresses are targets; everything started is stopped on exit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

QUICK=${LOADBENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  WARMUP=${LOADBENCH_WARMUP:-1s}; SAT=${LOADBENCH_SATURATION:-4s}; OPEN=${LOADBENCH_OPEN:-3s}
  QUIET_WAIT=${LOADBENCH_QUIET_WAIT:-0}; PROFILE=${LOADBENCH_PROFILE:-0}; RETRIES=${LOADBENCH_RETRIES:-0}
  ROUNDS=${LOADBENCH_ROUNDS:-1}
  TRAFFIC=(-requests 40000 -visitors 20000 -human-uas 2000 -crawler-uas 200 -recipients 5000)
else
  WARMUP=${LOADBENCH_WARMUP:-3s}; SAT=${LOADBENCH_SATURATION:-15s}; OPEN=${LOADBENCH_OPEN:-20s}
  QUIET_WAIT=${LOADBENCH_QUIET_WAIT:-300}; PROFILE=${LOADBENCH_PROFILE:-1}; RETRIES=${LOADBENCH_RETRIES:-1}
  ROUNDS=${LOADBENCH_ROUNDS:-3}
  TRAFFIC=(-requests 200000 -visitors 50000 -human-uas 4000 -crawler-uas 400 -recipients 40000)
fi
CONNS=${LOADBENCH_CONNS:-64}
MAX_OTHER=${LOADBENCH_MAX_OTHER:-0.1}
if [ "$(id -u)" = 0 ]; then NICE=${LOADBENCH_NICE:--20}; else NICE=${LOADBENCH_NICE:-0}; fi
SERVER_CPU=${LOADBENCH_SERVER_CPU:-0}
LOADGEN_CPU=${LOADBENCH_LOADGEN_CPU:-1}
# The scheduler shares the CPU between sessions (autogroups) before nice
# values count, so the priority is also given to this script's autogroup,
# and given back on exit.
AUTOGROUP_OLD=
if [ "$NICE" != 0 ] && [ -w "/proc/$$/autogroup" ]; then
  AUTOGROUP_OLD=$(sed -E 's/.* nice (-?[0-9]+).*/\1/' "/proc/$$/autogroup")
  echo "$NICE" >"/proc/$$/autogroup" 2>/dev/null || AUTOGROUP_OLD=
fi
# Command prefixes that run on one core at the benchmark's priority. They
# exec, so "$!" of a backgrounded server is the server's own pid.
ON_SERVER=(nice -n "$NICE" taskset -c "$SERVER_CPU")
ON_LOADGEN=(nice -n "$NICE" taskset -c "$LOADGEN_CPU")
OUT=${LOADBENCH_OUT:-/tmp/loadbench-$(date -u +%Y%m%dT%H%M%SZ)}
DB=loadbench
SITES=$ROOT/sites.example.json
SECRET=change-me-example-secret-0123456789abcdef
NGINX_PORT=18081 FIBER_PORT=18082 COLLECTOR_PORT=18083 PPROF_PORT=18084

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/loadbench-work.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
  if [ -n "$AUTOGROUP_OLD" ]; then echo "$AUTOGROUP_OLD" >"/proc/$$/autogroup" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_go
ensure_clickhouse
GEOIP=$(ensure_geoip)
command -v nginx >/dev/null 2>&1 || apt_install nginx
command -v taskset >/dev/null 2>&1 || apt_install util-linux
command -v curl >/dev/null 2>&1 || apt_install curl
[ "$(nproc)" -ge 2 ] || { log "needs 2 cores (one for the server, one for the load generator)"; exit 1; }

log "building (results in $OUT)"
go build -o "$WORK/collector" ./cmd/collector
(cd tools/loadbench && go build -o "$WORK/loadgen" ./cmd/loadgen && go build -o "$WORK/barefiber" ./cmd/barefiber)
if [ "$PROFILE" = 1 ]; then
  printf '{"Replace":{"%s":"%s"}}\n' "$ROOT/cmd/collector/zz_loadbench_pprof.go" \
    "$ROOT/tools/loadbench/overlay/pprof.go.in" >"$WORK/overlay.json"
  go build -overlay "$WORK/overlay.json" -o "$WORK/collector-pprof" ./cmd/collector
fi
go mod download github.com/x-way/crawlerdetect
UA_DIR=$(go list -m -f '{{.Dir}}' github.com/x-way/crawlerdetect)/testdata

# The generator signs email pixels itself; make sure it signs as the collector does.
"$WORK/loadgen" -secret "$SECRET" -check-signed-url \
  "$("$WORK/collector" sign-pixel -sites-file "$SITES" -site example.com -campaign loadbench-check -recipient rc42 -consent)" >&2

# Limits that would shed benchmark traffic (per-client rate limit, memory
# bounds) are raised far above what the run needs, when the collector has
# flags for them; any other flag that looks like a limit is listed. Shed
# or refused hits would still show: the accounting below fails on them.
COLLECTOR_LIMITS=()
LIMIT_NOTES=()
for f in $("$WORK/collector" -h 2>&1 | awk '$1 ~ /^-/ {print substr($1, 2)}'); do
  case $f in
    rate-limit|max-pending-rows|max-visitor-pairs|max-open-keys|max-counter-rows|*-max-rows|*-max-pairs|*-max-keys)
      COLLECTOR_LIMITS+=("-$f=1000000000"); LIMIT_NOTES+=("-$f=1000000000 (raised)") ;;
    *rate*|*limit*|*max*|*shed*|*memory*|*budget*) LIMIT_NOTES+=("-$f (left at its default)") ;;
  esac
done
log "collector limits: ${LIMIT_NOTES[*]:-no limit flags}"
printf '%s\n' "${LIMIT_NOTES[@]:-no limit flags}" >"$OUT/collector-limit-flags.txt"

# busy_cores prints how many cores were busy over one second.
busy_cores() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6; exit}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6; exit}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); printf "%.2f", (y[1]-x[1])/100}'
}
if [ "$QUIET_WAIT" -gt 0 ]; then
  log "waiting up to ${QUIET_WAIT}s for the machine to be idle (< 0.15 busy cores)"
  deadline=$((SECONDS + QUIET_WAIT))
  until [ "$(awk -v b="$(busy_cores)" 'BEGIN{print (b < 0.15)}')" = 1 ]; do
    if [ $SECONDS -ge $deadline ]; then log "machine still busy: results will show the disturbance"; break; fi
    sleep 4
  done
fi

wait_port() {
  local port=$1 pid=$2
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { log "server on port $port exited"; return 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.2
  done
  log "nothing listens on port $port"; return 1
}

RESULTS=$OUT/results.jsonl
: >"$RESULTS"
gen() { "${ON_LOADGEN[@]}" "$WORK/loadgen" -ua-dir "$UA_DIR" -secret "$SECRET" -conns "$CONNS" \
  -warmup "$WARMUP" "${TRAFFIC[@]}" "$@"; }

field() { sed -E "s/.*\"$1\":([0-9.e+-]+).*/\1/" "$2"; }

# run_once DESC [generator flags]: one run into $WORK/run.json, appended to
# the results, repeated while other processes disturbed it.
run_once() {
  local desc=$1; shift
  for try in $(seq 0 "$RETRIES"); do
    gen "$@" >"$WORK/run.json"
    cat "$WORK/run.json" >>"$RESULTS"
    local other; other=$(field other_cpu_utilisation "$WORK/run.json")
    awk -v o="$other" -v m="$MAX_OTHER" 'BEGIN{exit !(o <= m)}' && return 0
    log "$desc: other processes used $other cores during the run$([ "$try" -lt "$RETRIES" ] && echo '; again')"
  done
}

# measure ROUND NAME PORT PIDS SAME-RATE [generator flags]:
# saturation, then open loop at half the maximum (its rate is left in
# HALF), then, if SAME-RATE is not 0, open loop at that rate: the
# collector's, so that the latencies also compare at one rate.
measure() {
  local round=$1 name=$2 port=$3 pids=$4 same=$5; shift 5
  log "round $round, $name: closed-loop saturation, $CONNS connections, $SAT"
  run_once "$name saturation" -round "$round" -addr "127.0.0.1:$port" -label "$name" -mode closed \
    -duration "$SAT" -cpu-pids "$pids" "$@"
  local max; max=$(field rps "$WORK/run.json")
  local half; half=$(awk -v m="$max" 'BEGIN{printf "%d", m/2}')
  log "round $round, $name: max $(printf '%.0f' "$max") req/s; open loop at $half req/s, $OPEN"
  run_once "$name open loop" -round "$round" -addr "127.0.0.1:$port" \
    -label "$name" -mode open -rate "$half" -duration "$OPEN" -cpu-pids "$pids" "$@"
  if [ "$same" != 0 ]; then
    log "round $round, $name: open loop at the collector's $same req/s, $OPEN"
    run_once "$name at the collector's rate" -round "$round" -tag same-rate -addr "127.0.0.1:$port" \
      -label "$name" -mode open -rate "$same" -duration "$OPEN" -cpu-pids "$pids" "$@"
  fi
  HALF=$half
}

# The three servers wait side by side on the server core, each idle while
# another is measured; rounds interleave them, so that a slow patch of the
# machine does not fall on one server only.
# 1. nginx, one worker, empty_gif.
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /p.gif { empty_gif; add_header Cache-Control "no-store"; }
  }
}
EOF
"${ON_SERVER[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX=$!; PIDS+=("$NGINX")
wait_port $NGINX_PORT $NGINX
NGINX_WORKER=$(pgrep -P "$NGINX" | head -1)

# 2. Bare Fiber.
"${ON_SERVER[@]}" "$WORK/barefiber" -listen "127.0.0.1:$FIBER_PORT" &
FIBER=$!; PIDS+=("$FIBER")
wait_port $FIBER_PORT $FIBER

# 3. The collector, full path, into a fresh database and a fresh spool.
CH_PID=$(pgrep -o -x clickhouse-serv || pgrep -o -f clickhouse-server || true)
chq() { clickhouse-client --port "$CH_PORT" -q "$1"; }
start_collector() { # binary db [env]
  local bin=$1 db=$2; shift 2
  chq "DROP DATABASE IF EXISTS $db"
  # shellcheck disable=SC2086
  "${ON_SERVER[@]}" env CLICKHOUSE_URL="clickhouse://127.0.0.1:$CH_PORT/$db" GEOIP_DB="$GEOIP" \
    SITES_FILE="$SITES" SPOOL_DIR="$WORK/spool-$db" TRUSTED_PROXIES=127.0.0.1/32 LOG_LEVEL=warn \
    ADMIN_PASSWORD=loadbench-not-a-secret LISTEN_ADDR="127.0.0.1:$COLLECTOR_PORT" "$@" \
    "$bin" "${COLLECTOR_LIMITS[@]}" ${LOADBENCH_COLLECTOR_FLAGS:-} 2>>"$OUT/collector.log" &
  COLLECTOR=$!; PIDS+=("$COLLECTOR")
  wait_port $COLLECTOR_PORT $COLLECTOR
}
start_collector "$WORK/collector" $DB

for round in $(seq 1 "$ROUNDS"); do
  measure "$round" collector $COLLECTOR_PORT "collector=$COLLECTOR${CH_PID:+,clickhouse=$CH_PID}" 0
  COLLECTOR_HALF=$HALF
  measure "$round" nginx $NGINX_PORT "nginx=$NGINX_WORKER" "$COLLECTOR_HALF" -gif-only
  measure "$round" fiber $FIBER_PORT "fiber=$FIBER" "$COLLECTOR_HALF" -gif-only
done
kill "$NGINX" "$FIBER"; wait "$NGINX" "$FIBER" 2>/dev/null || true
curl -fsS "http://127.0.0.1:$COLLECTOR_PORT/metrics" >"$OUT/collector-metrics.txt"
kill -TERM "$COLLECTOR"; wait "$COLLECTOR" || { log "collector exited with an error; see $OUT/collector.log"; exit 1; }

# Accounting: what the collector accepted (its /metrics) must be what
# ClickHouse holds. Web hits each add one to the consent or filtered row;
# email opens one to opens or machine_opens of the total row.
metric() { awk -v re="$1" '$0 ~ re {s += $NF} END {printf "%d", s}' "$OUT/collector-metrics.txt"; }
M_WEB=$(metric '^tally_hits_total\{kind="(event|web_pixel)",outcome="(counted|consent_only|filtered)"\}')
M_EMAIL=$(metric '^tally_hits_total\{kind="email_pixel",outcome="(counted|filtered)"\}')
M_UNSIGNED=$(metric '^tally_hits_total\{kind="email_pixel",outcome="unsigned"\}')
M_REJECTED=$(metric '^tally_hits_rejected_total\{')
# Shed or rate-limited hits, under whatever name the limits get (not "flushed").
M_SHED=$(metric '^tally_([a-z]+_)*(shed|limited|ratelimited|dropped)(_[a-z]+)*(\{| )')
CH_WEB=$(chq "SELECT sum(hits) FROM $DB.web_counters WHERE dimension IN ('consent', 'filtered')")
CH_EMAIL=$(chq "SELECT sum(opens) + sum(machine_opens) FROM $DB.email_counters WHERE dimension = 'total'")
CH_PAGEVIEWS=$(chq "SELECT sum(pageviews) FROM $DB.web_counters WHERE dimension = 'total'")
CH_ROWS=$(chq "SELECT count() FROM $DB.web_counters")
cat >"$OUT/accounting.json" <<EOF
{"metrics_web": $M_WEB, "metrics_email": $M_EMAIL, "metrics_unsigned": $M_UNSIGNED, "metrics_rejected": $M_REJECTED,
 "metrics_shed": $M_SHED, "clickhouse_web": $CH_WEB, "clickhouse_email": $CH_EMAIL, "clickhouse_pageviews": $CH_PAGEVIEWS,
 "clickhouse_web_rows": $CH_ROWS}
EOF

# 4. CPU profile of the collector under saturation (build with pprof added).
if [ "$PROFILE" = 1 ]; then
  log "profiling the collector under closed-loop load"
  start_collector "$WORK/collector-pprof" ${DB}_profile LOADBENCH_PPROF_ADDR="127.0.0.1:$PPROF_PORT"
  "${ON_LOADGEN[@]}" "$WORK/loadgen" -ua-dir "$UA_DIR" -secret "$SECRET" -conns "$CONNS" "${TRAFFIC[@]}" \
    -addr "127.0.0.1:$COLLECTOR_PORT" -label collector-profiled -mode closed -warmup 3s -duration 25s \
    -cpu-pids "collector=$COLLECTOR" >"$OUT/profiled-run.json" &
  GEN=$!; PIDS+=("$GEN")
  sleep 6
  curl -fsS -o "$OUT/collector.cpu.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=18"
  wait "$GEN"
  curl -fsS -o "$OUT/collector.allocs.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/allocs"
  kill -TERM "$COLLECTOR"; wait "$COLLECTOR" || true
  chq "DROP DATABASE IF EXISTS ${DB}_profile"
  go tool pprof -top -nodecount=40 "$OUT/collector.cpu.pprof" >"$OUT/profile-top-flat.txt" 2>/dev/null
  go tool pprof -top -cum -nodecount=60 "$OUT/collector.cpu.pprof" >"$OUT/profile-top-cum.txt" 2>/dev/null
  go tool pprof -sample_index=alloc_space -top -nodecount=25 "$OUT/collector.allocs.pprof" >"$OUT/profile-allocs.txt" 2>/dev/null
fi

{
  echo "# Load benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "# $(go version | cut -d' ' -f3-), $(nginx -v 2>&1 | cut -d' ' -f3), ClickHouse $(chq 'SELECT version()'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- . ':!tools/loadbench' 2>/dev/null || echo ' + uncommitted changes')"
  echo "# quick=$QUICK rounds=$ROUNDS conns=$CONNS warmup=$WARMUP saturation=$SAT open=$OPEN server-cpu=$SERVER_CPU loadgen-cpu=$LOADGEN_CPU nice=$NICE"
  "$WORK/loadgen" report -results "$RESULTS" -accounting "$OUT/accounting.json"
  if [ "$PROFILE" = 1 ]; then
    echo; echo "CPU profile of the collector at saturation (flat, top 25): $OUT/collector.cpu.pprof"
    sed -n '1,32p' "$OUT/profile-top-flat.txt"
    echo; echo "Allocations over the profiled run (alloc_space, top 20): $OUT/collector.allocs.pprof"
    sed -n '6,26p' "$OUT/profile-allocs.txt"
  fi
} | tee "$OUT/report.md"
