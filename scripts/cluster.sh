#!/usr/bin/env bash
# A real ClickHouse cluster on this machine, for the cluster tests and for
# trying cluster mode by hand: one ZooKeeper and three clickhouse-server
# processes (Debian's packages, installed when missing), each with its own
# ports, config and data directory under $TALLY_CLUSTER_DIR
# (default /tmp/tally-cluster). The cluster is named "tally":
#
#   shard 01: s1r1 (tcp 19101), s1r2 (tcp 19102)   two replicas
#   shard 02: s2r1 (tcp 19103)                      one replica
#
# with macros {cluster} {shard} {replica}, distributed DDL (ON CLUSTER) and
# internal replication. The processes are kept small (a few threads, small
# caches and pools): the machine they run on is shared.
#
# Usage:
#   scripts/cluster.sh [start]       start what is not running (idempotent)
#   scripts/cluster.sh stop          stop everything and keep the data
#   scripts/cluster.sh clean         stop everything and delete the data
#   scripts/cluster.sh status        what runs, one line each
#   scripts/cluster.sh kill NODE     SIGKILL one server (s1r1, s1r2, s2r1) or zk
#   scripts/cluster.sh start NODE    start one server again (or zk)
#   scripts/cluster.sh stop NODE     stop one server (SIGTERM)
#   scripts/cluster.sh env           the settings the tests read, as VAR=value
#
# The tests in aggregator/clickhouse and cmd/collector read
# $TALLY_CLUSTER_DIR/cluster.env; without it they skip, saying to run this.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DIR=${TALLY_CLUSTER_DIR:-/tmp/tally-cluster}
CLUSTER=tally
ZK_PORT=${TALLY_ZK_PORT:-12181}
# name shard tcp http interserver
NODES=(
  "s1r1 01 19101 18101 19201"
  "s1r2 01 19102 18102 19202"
  "s2r1 02 19103 18103 19203"
)

node_field() { # node_field NAME INDEX: a column of NODES
  local n f
  for n in "${NODES[@]}"; do
    read -r -a f <<<"$n"
    if [ "${f[0]}" = "$1" ]; then echo "${f[$2]}"; return 0; fi
  done
  return 1
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_packages() {
  local need=()
  command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)
  [ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
  command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
  [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
}

# ---------------------------------------------------------------- ZooKeeper

write_zk() {
  mkdir -p "$DIR/zk/data"
  cat >"$DIR/zk/zoo.cfg" <<EOF
tickTime=2000
dataDir=$DIR/zk/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=200
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,mntr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF
}

zk_ok() {
  local reply
  reply=$( { exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" && printf ruok >&3 && timeout 2 cat <&3; } 2>/dev/null) || return 1
  [ "$reply" = imok ]
}

start_zk() {
  if pid_alive "$DIR/zk/pid" && zk_ok; then return 0; fi
  write_zk
  log "starting ZooKeeper on 127.0.0.1:$ZK_PORT"
  # A small heap and the serial collector: a test ensemble holds a few
  # thousand nodes. Debian's jar finds its dependencies by its manifest.
  (cd "$DIR/zk" && setsid -f java -Xms16m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ActiveProcessorCount=1 \
    -Dzookeeper.log.dir="$DIR/zk" -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
    org.apache.zookeeper.server.ZooKeeperServerMain "$DIR/zk/zoo.cfg" </dev/null >"$DIR/zk/zk.log" 2>&1)
  for _ in $(seq 1 60); do
    local pid; pid=$(pgrep -f "ZooKeeperServerMain $DIR/zk/zoo.cfg" | head -1 || true)
    [ -n "$pid" ] && echo "$pid" >"$DIR/zk/pid"
    zk_ok && return 0
    sleep 0.5
  done
  log "ZooKeeper did not come up; see $DIR/zk/zk.log"
  return 1
}

# --------------------------------------------------------------- ClickHouse

write_node() { # write_node NAME
  local name=$1 shard tcp http inter
  shard=$(node_field "$name" 1) tcp=$(node_field "$name" 2) http=$(node_field "$name" 3) inter=$(node_field "$name" 4)
  local d="$DIR/$name"
  mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas" "$d/log"
  local replicas="" n cur=""
  for n in "${NODES[@]}"; do
    set -- $n
    if [ "$2" != "$cur" ]; then
      [ -n "$cur" ] && replicas+="            </shard>"$'\n'
      replicas+="            <shard><internal_replication>true</internal_replication>"$'\n'
      cur=$2
    fi
    replicas+="                <replica><host>127.0.0.1</host><port>$3</port></replica>"$'\n'
  done
  replicas+="            </shard>"
  cat >"$d/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/cluster.sh: node $name of the test cluster "$CLUSTER". -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$d/log/server.log</log>
        <errorlog>$d/log/error.log</errorlog>
        <size>50M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$tcp</tcp_port>
    <http_port>$http</http_port>
    <interserver_http_port>$inter</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <user_files_path>$d/user_files/</user_files_path>
    <format_schema_path>$d/format_schemas/</format_schema_path>
    <users_config>$d/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_connections>256</max_connections>
    <max_concurrent_queries>50</max_concurrent_queries>
    <keep_alive_timeout>3</keep_alive_timeout>
    <!-- Small: a shared machine. Newer servers also read the pool bounds
         below; 18.16 ignores what it does not know. -->
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_server_memory_usage>1073741824</max_server_memory_usage>
    <max_thread_pool_size>64</max_thread_pool_size>
    <background_pool_size>2</background_pool_size>
    <background_schedule_pool_size>8</background_schedule_pool_size>
    <mlock_executable>false</mlock_executable>
    <remote_servers>
        <$CLUSTER>
$replicas
        </$CLUSTER>
    </remote_servers>
    <zookeeper>
        <node><host>127.0.0.1</host><port>$ZK_PORT</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <macros>
        <cluster>$CLUSTER</cluster>
        <shard>$shard</shard>
        <replica>$name</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
        <cleanup_delay_period>60</cleanup_delay_period>
        <task_max_lifetime>86400</task_max_lifetime>
    </distributed_ddl>
    <!-- Distributed sends and replica fetches: a test cluster, not a
         backbone. -->
    <merge_tree>
        <max_suspicious_broken_parts>5</max_suspicious_broken_parts>
    </merge_tree>
</yandex>
EOF
  cat >"$d/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>536870912</max_memory_usage>
            <max_threads>2</max_threads>
            <background_pool_size>4</background_pool_size>
            <background_schedule_pool_size>8</background_schedule_pool_size>
            <load_balancing>in_order</load_balancing>
            <distributed_ddl_task_timeout>60</distributed_ddl_task_timeout>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
}

ch_ok() { clickhouse-client --port "$1" -q 'SELECT 1' >/dev/null 2>&1; }

start_node() { # start_node NAME
  local name=$1 tcp d="$DIR/$1"
  tcp=$(node_field "$name" 2) || { log "no node $name"; return 1; }
  if pid_alive "$d/pid" && ch_ok "$tcp"; then return 0; fi
  if port_open "$tcp" && ! pid_alive "$d/pid"; then
    log "port $tcp is taken by a process this script did not start"; return 1
  fi
  write_node "$name"
  log "starting clickhouse-server $name (tcp 127.0.0.1:$tcp, log $d/log)"
  (cd "$d" && setsid -f clickhouse-server --config-file="$d/config.xml" </dev/null >"$d/log/stdout.log" 2>&1)
  # 18.16 writes --pid-file only as a daemon: the pid is found by its
  # config path, which names this node alone.
  local pid=""
  for _ in $(seq 1 20); do
    pid=$(pgrep -f -- "--config-file=$d/config.xml" | head -1 || true)
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || { log "clickhouse-server $name did not start; see $d/log"; return 1; }
  echo "$pid" >"$d/pid"
}

wait_node() {
  local name=$1 tcp; tcp=$(node_field "$name" 2)
  for _ in $(seq 1 90); do ch_ok "$tcp" && return 0; sleep 0.5; done
  log "clickhouse-server $name did not come up; see $DIR/$name/log"
  return 1
}

stop_pid() { # stop_pid PIDFILE SIGNAL
  local f=$1 sig=$2
  pid_alive "$f" || { rm -f "$f"; return 0; }
  local pid; pid=$(cat "$f")
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  rm -f "$f"
}

node_names() { local n; for n in "${NODES[@]}"; do set -- $n; echo "$1"; done; }

write_env() {
  local urls=() n
  for n in "${NODES[@]}"; do set -- $n; urls+=("$1=clickhouse://127.0.0.1:$3"); done
  {
    echo "TALLY_CLUSTER_NAME=$CLUSTER"
    echo "TALLY_CLUSTER_ZK=127.0.0.1:$ZK_PORT"
    echo "TALLY_CLUSTER_NODES=${urls[*]}"
    echo "TALLY_CLUSTER_SCRIPT=$ROOT/scripts/cluster.sh"
  } >"$DIR/cluster.env"
}

start_all() {
  ensure_packages
  mkdir -p "$DIR"
  start_zk
  local n
  for n in $(node_names); do start_node "$n"; done
  for n in $(node_names); do wait_node "$n"; done
  # Every node must see the cluster and ZooKeeper before tests use it.
  for _ in $(seq 1 60); do
    if clickhouse-client --port "$(node_field s1r1 2)" -q \
      "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  write_env
  log "cluster $CLUSTER up: $(tr '\n' ' ' <"$DIR/cluster.env" | sed 's/TALLY_CLUSTER_SCRIPT=.*//')"
}

stop_all() {
  local n
  for n in $(node_names); do stop_pid "$DIR/$n/pid" TERM; done
  stop_pid "$DIR/zk/pid" TERM
  rm -f "$DIR/cluster.env"
}

status() {
  local n tcp
  if pid_alive "$DIR/zk/pid" && zk_ok; then echo "zk    up   127.0.0.1:$ZK_PORT"; else echo "zk    down"; fi
  for n in $(node_names); do
    tcp=$(node_field "$n" 2)
    if pid_alive "$DIR/$n/pid" && ch_ok "$tcp"; then echo "$n  up   127.0.0.1:$tcp"; else echo "$n  down 127.0.0.1:$tcp"; fi
  done
}

cmd=${1:-start}
node=${2:-}
case "$cmd" in
  start)
    if [ -z "$node" ]; then start_all
    elif [ "$node" = zk ]; then start_zk
    else start_node "$node" && wait_node "$node"; fi ;;
  stop)
    if [ -z "$node" ]; then stop_all
    elif [ "$node" = zk ]; then stop_pid "$DIR/zk/pid" TERM
    else node_field "$node" 0 >/dev/null && stop_pid "$DIR/$node/pid" TERM; fi ;;
  kill)
    [ -n "$node" ] || { echo "usage: $0 kill NODE" >&2; exit 2; }
    if [ "$node" = zk ]; then stop_pid "$DIR/zk/pid" KILL
    else node_field "$node" 0 >/dev/null && stop_pid "$DIR/$node/pid" KILL; fi ;;
  clean) stop_all; rm -rf "$DIR" ;;
  status) status ;;
  env) cat "$DIR/cluster.env" ;;
  *) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//' | head -n -1 >&2; exit 2 ;;
esac
