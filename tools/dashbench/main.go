// Command dashbench fills a fresh ClickHouse database with a year of
// aggregates for one site with about a million page views a day, then times
// the dashboard's main queries over a 30-day range and prints a Markdown
// table for BENCHMARKS.md ("Dashboard queries").
//
//	go run ./tools/dashbench -url clickhouse://127.0.0.1:9000/tally_bench
//
// The database named in -url is dropped first and left in place at the end
// (use -skip-fill to time again without refilling).
//
// With -cluster NAME the database is made in cluster mode on that cluster
// (as the collector's CLICKHOUSE_CLUSTER does): each shard's local table is
// filled with its share of the rows on the shard's first replica, and the
// queries read the Distributed table, as the dashboards do:
//
//	go run ./tools/dashbench -url clickhouse://127.0.0.1:19101/tally_bench -cluster tally
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/aggregator/clickhouse"
	"tally/dashboards/stats"
)

const site = "big.example"

// dims are the distinct values per hour of each dimension, and the share of
// the hour's page views each one carries (hit-only dimensions: of hits).
var dims = []struct {
	name   string
	values int
	prefix string
}{
	{"total", 1, ""},
	{"path", 2000, "/page/"},
	{"source", 300, "site"},
	{"utm_source", 50, "src"},
	{"utm_medium", 10, "medium"},
	{"utm_campaign", 100, "campaign"},
	{"country", 150, "C"},
	{"region", 800, "R-"},
	{"device", 4, "device"},
	{"browser", 20, "browser"},
	{"os", 10, "os"},
	{"event", 20, "event"},
	{"consent", 3, "state"},
	{"filtered", 5, "reason"},
}

func main() {
	url := flag.String("url", "clickhouse://127.0.0.1:9000/tally_bench", "ClickHouse URL of the benchmark database (dropped and refilled)")
	skipFill := flag.Bool("skip-fill", false, "time the queries on the existing data")
	runs := flag.Int("runs", 20, "timed runs per query")
	cluster := flag.String("cluster", "", "ClickHouse cluster to run on (cluster mode); empty: one server")
	flag.Parse()
	if err := run(*url, *cluster, *skipFill, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "dashbench:", err)
		os.Exit(1)
	}
}

func run(url, cluster string, skipFill bool, runs int) error {
	ctx := context.Background()
	// A year ending at the start of today (UTC).
	end := time.Now().UTC().Truncate(24 * time.Hour)
	start := end.AddDate(-1, 0, 0)
	hours := int(end.Sub(start).Hours())

	if !skipFill {
		opts, err := ch.ParseDSN(url)
		if err != nil {
			return fmt.Errorf("cannot parse URL: %w", err)
		}
		db := opts.Auth.Database
		opts.Auth.Database = "default"
		admin, err := ch.Open(opts)
		if err != nil {
			return err
		}
		onCluster := ""
		if cluster != "" {
			onCluster = " ON CLUSTER " + cluster
		}
		if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+onCluster); err != nil {
			return fmt.Errorf("cannot drop %s: %w", db, err)
		}
		admin.Close()
	}
	sink, err := clickhouse.Open(ctx, clickhouse.Options{URL: url, Cluster: cluster})
	if err != nil {
		return err
	}
	defer sink.Close()
	if err := sink.Ready(ctx); err != nil {
		return err
	}
	conn := sink.Conn()
	targets := []target{{conn: conn}}
	table := "web_counters"
	if cluster != "" {
		if targets, err = shardTargets(ctx, conn, cluster, url); err != nil {
			return err
		}
		table = "web_counters_local"
	}

	if !skipFill {
		t0 := time.Now()
		var rows int
		for _, d := range dims {
			// Zipf-like: value i carries k/(i+1), k chosen so that the
			// hour's values add up to ~41,667 page views (1M a day).
			var harmonic float64
			for i := 1; i <= d.values; i++ {
				harmonic += 1 / float64(i)
			}
			k := int(41667 / harmonic)
			value := fmt.Sprintf("concat('%s', toString(number %% %d))", d.prefix, d.values)
			if d.name == "total" {
				value = "''"
			}
			pv, vis := fmt.Sprintf("toInt64(intDiv(%d, (number %% %d) + 1) + 1)", k, d.values), "toInt64(intDiv(%d, (number %% %d) + 1) / 3)"
			vis = fmt.Sprintf(vis, k, d.values)
			if d.name == "event" || d.name == "consent" || d.name == "filtered" {
				vis = "toInt64(0)"
			}
			for _, tg := range targets {
				// Literal SQL of constants only (Exec with arguments hangs on 18.16).
				q := fmt.Sprintf(`INSERT INTO %s (site, hour, dimension, value, hits, pageviews, visitors)
SELECT '%s', toDateTime(%d + intDiv(number, %d) * 3600), '%s', %s, %s, %s, %s FROM (SELECT number FROM system.numbers LIMIT %d) %s`,
					table, site, start.Unix(), d.values, d.name, value, pv, pv, vis, hours*d.values, tg.where)
				if err := tg.conn.Exec(ctx, q); err != nil {
					return fmt.Errorf("cannot fill %s: %w", d.name, err)
				}
			}
			rows += hours * d.values
		}
		fmt.Fprintf(os.Stderr, "filled %d rows in %v; merging...\n", rows, time.Since(t0).Round(time.Second))
		t1 := time.Now()
		for _, tg := range targets {
			if err := tg.conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
				return fmt.Errorf("cannot merge: %w", err)
			}
		}
		fmt.Fprintf(os.Stderr, "merged in %v\n", time.Since(t1).Round(time.Second))
	}

	var rowsN uint64
	var pv int64
	if err := conn.QueryRow(ctx, "SELECT count(), sumIf(pageviews, dimension = 'total') FROM web_counters").Scan(&rowsN, &pv); err != nil {
		return err
	}

	q := stats.New(conn)
	r := stats.Range{Start: end.AddDate(0, 0, -30), End: end}
	const k = 5
	type query struct {
		name string
		f    func() error
	}
	queries := []query{
		{"totals + previous period", func() error { _, err := q.Totals(ctx, site, r); return err }},
		{"daily series", func() error {
			_, err := q.Series(ctx, stats.SeriesQuery{Site: site, Range: r, Interval: stats.Daily})
			return err
		}},
	}
	for _, d := range []string{"path", "source", "utm_campaign", "country", "region", "browser", "consent"} {
		queries = append(queries, query{"top 10 " + d + " (k=5 folding)", func() error {
			_, err := q.Breakdown(ctx, stats.BreakdownQuery{Site: site, Dimension: d, Range: r, Limit: 10, K: k})
			return err
		}})
	}
	queries = append(queries, query{"whole site page (2 + 13 breakdowns, parallel)", func() error {
		errs := make(chan error, 15)
		go func() { _, err := q.Totals(ctx, site, r); errs <- err }()
		go func() {
			_, err := q.Series(ctx, stats.SeriesQuery{Site: site, Range: r, Interval: stats.Daily})
			errs <- err
		}()
		for _, d := range stats.WebDimensions {
			go func() {
				_, err := q.Breakdown(ctx, stats.BreakdownQuery{Site: site, Dimension: d.Name, Range: r, Limit: 10, K: k})
				errs <- err
			}()
		}
		for range 15 {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	}})

	var out strings.Builder
	var version string
	conn.QueryRow(ctx, "SELECT version()").Scan(&version)
	where := "one server"
	if cluster != "" {
		where = fmt.Sprintf("cluster %s of %d shards, read through the Distributed table", cluster, len(targets))
	}
	fmt.Fprintf(&out, "ClickHouse %s, %s, %d rows in web_counters (%s page views over a year, one site), 30-day range, %d runs after one warm-up run.\n\n",
		version, where, rowsN, group(pv), runs)
	out.WriteString("| query | median | p95 | max |\n|---|---:|---:|---:|\n")
	for _, qq := range queries {
		if err := qq.f(); err != nil {
			return fmt.Errorf("%s: %w", qq.name, err)
		}
		var ds []time.Duration
		for range runs {
			t := time.Now()
			if err := qq.f(); err != nil {
				return fmt.Errorf("%s: %w", qq.name, err)
			}
			ds = append(ds, time.Since(t))
		}
		slices.Sort(ds)
		fmt.Fprintf(&out, "| %s | %s | %s | %s |\n", qq.name, ms(ds[len(ds)/2]), ms(ds[len(ds)*95/100]), ms(ds[len(ds)-1]))
	}
	fmt.Print(out.String())
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func group(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// target is where rows are written: the table itself on one server; on a
// cluster, each shard's local table through its first replica, with the
// rows whose number falls to that shard.
type target struct {
	conn  driver.Conn
	where string
}

// shardTargets opens a connection to the first replica of each shard of
// cluster, each given the rows whose number falls to it.
func shardTargets(ctx context.Context, conn driver.Conn, cluster, url string) ([]target, error) {
	rows, err := conn.Query(ctx, "SELECT host_name, port FROM system.clusters WHERE cluster = '"+cluster+"' AND replica_num = 1 ORDER BY shard_num")
	if err != nil {
		return nil, fmt.Errorf("cannot read the shards of %s: %w", cluster, err)
	}
	defer rows.Close()
	var hosts []string
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			return nil, err
		}
		hosts = append(hosts, fmt.Sprintf("%s:%d", host, port))
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("no cluster %s", cluster)
	}
	opts, err := ch.ParseDSN(url)
	if err != nil {
		return nil, err
	}
	var out []target
	for i, h := range hosts {
		o := *opts
		o.Addr = []string{h}
		c, err := ch.Open(&o)
		if err != nil {
			return nil, err
		}
		out = append(out, target{c, fmt.Sprintf("WHERE number %% %d = %d", len(hosts), i)})
	}
	return out, nil
}
