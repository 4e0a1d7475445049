package grafana

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/dashboards/stats"
	"tally/internal/chmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Views are the only objects the Grafana user may read (docker-compose
// grants it SELECT on these and nothing else). Each applies the site's k:
//
//   - grafana_sites: the declared sites and their k.
//   - grafana_web_daily: web counters per (site, UTC day, dimension, value).
//     A value counting fewer than k that day is folded into "(other)"; when
//     "(other)" would stay below k but not empty, the next smallest value is
//     folded too, so the day's total minus the shown rows is never a small
//     count; "(other)" (and a day's total) below k is left out. Any sum
//     Grafana makes of these rows is a sum of rows of at least k.
//   - grafana_email_daily: campaign counters per (site, campaign, UTC day);
//     the opens of a day are NULL below k, and every day's are for a
//     campaign sent to fewer than k. A day with neither sends nor k opens
//     has no row, so a NULL never tells that someone opened.
//
// Both hold complete UTC days only: a day still being counted would let
// whoever polls it see each hour's increments exactly, and link them
// across dimensions.
var Views = []string{"grafana_sites", "grafana_web_daily", "grafana_email_daily"}

const sitesView = `SELECT site, argMax(k, version) AS k, argMax(count_hits, version) AS count_hits
FROM grafana_site_k
GROUP BY site
HAVING max(version) = (SELECT max(version) FROM grafana_site_k)`

// webDailyView avoids lambdas that capture columns (ClickHouse 18.16 loses
// them when a query reads a subset of the view's columns): k travels in
// each tuple instead.
const webDailyView = `SELECT site, day, dimension, r.1 AS value, r.2 AS hits, r.3 AS pageviews, r.4 AS visitors
FROM (
    SELECT site, day, dimension,
        arrayMap((x, c) -> x.5 < x.6 OR (c - x.5 > 0 AND c - x.5 < x.6), sorted, arrayCumSum(arrayMap(x -> x.5, sorted))) AS folded,
        arrayFilter((x, f) -> f, sorted, folded) AS hidden,
        arrayConcat(
            arrayMap(x -> (x.1, x.2, x.3, x.4), arrayFilter((x, f) -> NOT f, sorted, folded)),
            arrayMap(x -> (x.1, x.2, x.3, x.4), arrayFilter(x -> x.5 >= x.6, [('` + stats.OtherValue + `',
                arraySum(arrayMap(x -> x.2, hidden)), arraySum(arrayMap(x -> x.3, hidden)), arraySum(arrayMap(x -> x.4, hidden)),
                arraySum(arrayMap(x -> x.5, hidden)), kk)]))) AS out
    FROM (
        SELECT site, day, dimension, any(site_k) AS kk, arraySort(x -> x.5, groupArray((value, h, p, v, m, site_k))) AS sorted
        FROM (
            SELECT site, day, dimension, value, h, p, v, toInt64(site_k) AS site_k,
                if(site_hits OR dimension IN (HITS_ONLY) OR v <= 0, h, v) AS m
            FROM (
                SELECT site, toDate(hour) AS day, dimension, value, sum(hits) AS h, sum(pageviews) AS p, sum(visitors) AS v
                FROM web_counters
                WHERE toDate(hour) < toDate(now(), 'UTC')
                GROUP BY site, day, dimension, value
                HAVING h != 0 OR p != 0 OR v != 0
            ) ANY INNER JOIN (SELECT site, k AS site_k, count_hits AS site_hits FROM grafana_sites) USING site
        )
        GROUP BY site, day, dimension
    )
)
ARRAY JOIN out AS r`

// emailDailyView nests its joins: ClickHouse 18.16 takes one per SELECT.
const emailDailyView = `SELECT site, campaign, day, s AS sent,
    if(hidden, NULL, o) AS opens, if(hidden, NULL, u) AS unique_opens, if(hidden, NULL, mo) AS machine_opens
FROM (
    SELECT site, campaign, day, s, o, u, mo, campaign_sent < site_k OR if(u > 0, u, o) < site_k AS hidden
    FROM (
        SELECT site, campaign, day, s, o, u, mo, campaign_sent
        FROM (
            SELECT site, campaign, toDate(hour) AS day,
                sum(sent) AS s, sum(opens) AS o, sum(unique_opens) AS u, sum(machine_opens) AS mo
            FROM email_counters
            WHERE dimension = 'total' AND toDate(hour) < toDate(now(), 'UTC')
            GROUP BY site, campaign, day
        ) ANY INNER JOIN (
            SELECT site, campaign, sum(sent) AS campaign_sent
            FROM email_counters WHERE dimension = 'total'
            GROUP BY site, campaign
        ) USING (site, campaign)
    ) ANY INNER JOIN (SELECT site, toInt64(k) AS site_k FROM grafana_sites) USING site
)
WHERE s != 0 OR NOT hidden`

// Site is what the views need of one declared site.
type Site struct {
	Domain string
	// K is the site's shared k (never 0).
	K int
	// CountHits is set where k counts hits (anonymous mode).
	CountHits bool
}

// Prepare records the sites' k and creates or replaces the views. It needs
// the counter tables (the sink's migrations) to exist, and is safe to run
// again: every process start runs it.
func Prepare(ctx context.Context, conn driver.Conn, all []Site) error {
	return PrepareOn(ctx, conn, chmigrate.Cluster{}, all)
}

// ddlTimeout bounds the wait for each host to run a view's distributed DDL:
// past it, a host that is down runs it from the queue when it is back
// (chmigrate.ErrQueued), and the collector starting now does not wait.
const ddlTimeout = 10

// PrepareOn is Prepare on a cluster (the zero Cluster: one server): the
// site list is replicated to every host and the views are made on every
// host (ON CLUSTER), over the Distributed counter tables. A host that is
// down gets them when it returns; the error then wraps chmigrate.ErrQueued.
func PrepareOn(ctx context.Context, conn driver.Conn, c chmigrate.Cluster, all []Site) error {
	if len(all) == 0 {
		return errors.New("grafana: no sites")
	}
	ms, err := chmigrate.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if err := c.Apply(ctx, conn, "grafana_migrations", ms); err != nil {
		return fmt.Errorf("cannot migrate the Grafana tables: %w", err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO grafana_site_k (site, k, count_hits, version)")
	if err != nil {
		return fmt.Errorf("cannot prepare the Grafana site list: %w", err)
	}
	version := uint64(time.Now().UnixNano())
	for _, s := range all {
		if s.K <= 0 {
			batch.Abort()
			return fmt.Errorf("grafana: site %s has no k", s.Domain)
		}
		var hits uint8
		if s.CountHits {
			hits = 1
		}
		if err := batch.Append(s.Domain, uint32(s.K), hits, version); err != nil {
			batch.Abort()
			return fmt.Errorf("cannot append to the Grafana site list: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot store the Grafana site list: %w", err)
	}

	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return fmt.Errorf("cannot read the ClickHouse version: %w", err)
	}
	definer := definerViews(v)
	hitsOnly := make([]string, 0, 3)
	for _, d := range stats.WebDimensions {
		if d.HitsOnly {
			hitsOnly = append(hitsOnly, "'"+d.Name+"'")
		}
	}
	bodies := map[string]string{
		"grafana_sites":       sitesView,
		"grafana_web_daily":   strings.Replace(webDailyView, "HITS_ONLY", strings.Join(hitsOnly, ", "), 1),
		"grafana_email_daily": emailDailyView,
	}
	var queued error
	if c.On() {
		ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"distributed_ddl_task_timeout": ddlTimeout}))
	}
	for _, name := range Views {
		body, target := bodies[name], name
		if c.On() {
			// A distributed DDL runs on the other hosts in their default
			// database: every name is written out.
			body, target = qualify(body, c.Database), c.Database+"."+name+c.OnCluster()
		}
		var stmts []string
		if definer {
			// Run as their creator: the Grafana user reads the views and
			// nothing under them (the default is the invoker's rights).
			stmts = []string{"CREATE OR REPLACE VIEW " + target + " DEFINER = CURRENT_USER SQL SECURITY DEFINER AS\n" + body}
		} else {
			stmts = []string{"DROP TABLE IF EXISTS " + target, "CREATE VIEW " + target + " AS\n" + body}
		}
		for _, s := range stmts {
			err := c.ExecOn(ctx, conn, s)
			if errors.Is(err, chmigrate.ErrQueued) {
				queued = err
				continue
			}
			if err != nil {
				return fmt.Errorf("cannot create view %s: %w", name, err)
			}
		}
	}
	return queued
}

// viewTables are the tables and views the view bodies read.
var viewTables = regexp.MustCompile(`\bFROM (web_counters|email_counters|grafana_site_k|grafana_sites)\b`)

// qualify writes the database before every table a view body reads.
func qualify(body, database string) string {
	return viewTables.ReplaceAllString(body, "FROM "+database+".$1")
}

// definerViews reports whether ClickHouse version v has SQL SECURITY
// DEFINER views (24.4 and later); older servers (the tests' 18.16) make
// plain views, and give a restricted user no way to read only them.
func definerViews(v string) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (major > 24 || major == 24 && minor >= 4)
}
