package chmigrate

import (
	"slices"
	"strings"
	"testing"
)

func TestRewrite(t *testing.T) {
	c := Cluster{Name: "tally", Database: "analytics", Sharded: []string{"web_counters"}, DedupWindow: 10000}
	f := func(stmt string, want ...string) {
		t.Helper()
		got, err := c.Rewrite(stmt)
		if err != nil {
			t.Fatalf("Rewrite(%q): %v", stmt, err)
		}
		norm := func(ss []string) []string {
			out := make([]string, len(ss))
			for i, s := range ss {
				out[i] = strings.Join(strings.Fields(s), " ")
			}
			return out
		}
		if !slices.Equal(norm(got), norm(want)) {
			t.Fatalf("Rewrite(%q)\n got %q\nwant %q", stmt, norm(got), norm(want))
		}
	}
	// A sharded table: replicated local tables per shard, Distributed in front.
	f(`CREATE TABLE IF NOT EXISTS web_counters (
    site String,
    hour DateTime('UTC')
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site, hour)`,
		`CREATE TABLE IF NOT EXISTS analytics.web_counters_local ON CLUSTER tally ( site String, hour DateTime('UTC') ) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/tally/{shard}/analytics/web_counters_local', '{replica}') PARTITION BY toYYYYMM(hour) ORDER BY (site, hour) SETTINGS replicated_deduplication_window = 10000`,
		`CREATE TABLE IF NOT EXISTS analytics.web_counters ON CLUSTER tally AS analytics.web_counters_local ENGINE = Distributed(tally, analytics, web_counters_local, rand())`)
	// A small table: whole on every host, engine arguments kept.
	f(`CREATE TABLE IF NOT EXISTS share_links (id String, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY id`,
		`CREATE TABLE IF NOT EXISTS analytics.share_links ON CLUSTER tally (id String, version UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/tally/all/analytics/share_links', '{shard}-{replica}', version) ORDER BY id`)
	// Column changes reach the Distributed table, made again over the
	// altered local table; data changes do not.
	f(`ALTER TABLE web_counters ADD COLUMN x Int64`,
		`ALTER TABLE analytics.web_counters_local ON CLUSTER tally ADD COLUMN x Int64`,
		`DROP TABLE IF EXISTS analytics.web_counters ON CLUSTER tally`,
		`CREATE TABLE IF NOT EXISTS analytics.web_counters ON CLUSTER tally AS analytics.web_counters_local ENGINE = Distributed(tally, analytics, web_counters_local, rand())`)
	f(`ALTER TABLE web_counters DROP PARTITION 202401`,
		`ALTER TABLE analytics.web_counters_local ON CLUSTER tally DROP PARTITION 202401`)
	f(`ALTER TABLE share_links ADD COLUMN expires_at DateTime('UTC') DEFAULT toDateTime(0)`,
		`ALTER TABLE analytics.share_links ON CLUSTER tally ADD COLUMN expires_at DateTime('UTC') DEFAULT toDateTime(0)`)

	// What the rules do not know is refused, not run on one host.
	for _, bad := range []string{
		"INSERT INTO share_links VALUES ('a', 1)",
		"CREATE VIEW v AS SELECT 1",
		"CREATE TABLE t (a Int8) ENGINE = Memory",
		"CREATE TABLE IF NOT EXISTS t (a Int8) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
	} {
		if _, err := c.Rewrite(bad); err == nil {
			t.Errorf("Rewrite(%q) succeeded, want it refused", bad)
		}
	}
	// One server: unchanged.
	if got, _ := (Cluster{}).Rewrite("CREATE VIEW v AS SELECT 1"); !slices.Equal(got, []string{"CREATE VIEW v AS SELECT 1"}) {
		t.Fatalf("one server rewrote %q", got)
	}
}

func TestClusterValidate(t *testing.T) {
	for _, c := range []Cluster{{Name: "a b", Database: "d"}, {Name: "c", Database: "d;"}, {Name: "c", Database: "d", Sharded: []string{"X-"}}} {
		if c.Validate() == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
	if err := (Cluster{Name: "tally", Database: "analytics"}).Validate(); err != nil {
		t.Fatal(err)
	}
}
