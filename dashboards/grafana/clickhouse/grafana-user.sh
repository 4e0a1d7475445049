#!/bin/bash
# Creates the read-only ClickHouse user Grafana connects as (docker-compose
# profile "grafana"). ClickHouse's image runs this once, when the
# clickhouse-data volume is first initialised; on an existing volume run the
# same statements by hand (dashboards/README.md).
#
# The user may read three views and nothing else: grafana_sites,
# grafana_web_daily, grafana_email_daily. The collector's dashboards
# create them (SQL SECURITY DEFINER, so they read the counters with their
# creator's rights) and each applies the site's k; the counter tables, the
# noise key and the system tables stay out of reach.
#
# The subshell keeps "exit" from ending the entrypoint if it sources this
# file instead of running it.
(
set -eu
pw="${GRAFANA_CLICKHOUSE_PASSWORD:-}"
if [ -z "$pw" ]; then
	echo "grafana-user.sh: GRAFANA_CLICKHOUSE_PASSWORD is not set: no Grafana user" >&2
	exit 0
fi
# A plain alphabet keeps the password out of any quoting trouble in SQL.
case "$pw" in
*[!A-Za-z0-9_-]*)
	echo "grafana-user.sh: GRAFANA_CLICKHOUSE_PASSWORD may hold only letters, digits, '-' and '_' (openssl rand -hex 24)" >&2
	exit 1
	;;
esac
if [ "${#pw}" -lt 16 ]; then
	echo "grafana-user.sh: GRAFANA_CLICKHOUSE_PASSWORD must be at least 16 characters" >&2
	exit 1
fi
db="${CLICKHOUSE_DB:-analytics}"
clickhouse client --user "${CLICKHOUSE_USER:-default}" --password "${CLICKHOUSE_PASSWORD:-}" --multiquery <<SQL
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '$pw'
    DEFAULT DATABASE $db
    SETTINGS readonly = 1, max_execution_time = 60 CHANGEABLE_IN_READONLY;
GRANT SELECT ON $db.grafana_sites TO grafana;
GRANT SELECT ON $db.grafana_web_daily TO grafana;
GRANT SELECT ON $db.grafana_email_daily TO grafana;
SQL
)
