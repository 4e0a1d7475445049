package dashboards

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/counter"
	"tally/dashboards/grafana"
	"tally/dashboards/privacy"
	"tally/dashboards/share"
	"tally/internal/chtest"
)

// The dashboards' own tables on a cluster (scripts/cluster.sh): made on
// every host, replicated whole to every host, so that what one collector
// writes (a share link, a sign-out, the noise key) is read by a collector
// connected to another host; the Grafana views exist on every host.
func TestClusterTablesAreReplicatedEverywhere(t *testing.T) {
	c := chtest.ClusterOrSkip(t)
	url, db := c.Database(t, "s1r1")
	ctx := context.Background()
	sink, err := clickhouse.Open(ctx, clickhouse.Options{URL: url, Cluster: c.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if err := sink.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	cl := sink.Cluster()
	if !cl.On() || cl.Database != db {
		t.Fatalf("sink.Cluster() = %+v", cl)
	}
	conns := map[string]driver.Conn{}
	for _, n := range c.Nodes {
		conn, err := ch.Open(&ch.Options{Addr: []string{n.Addr}, Auth: ch.Auth{Database: db}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[n.Name] = conn
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen within 15s", what)
			}
		}
	}

	// A share link made through s1r1 resolves through s2r1.
	token, _, err := share.NewOn(conns["s1r1"], cl, nil).Create(ctx, "example.com", "board", 0)
	if err != nil {
		t.Fatal(err)
	}
	other := share.NewOn(conns["s2r1"], cl, nil)
	eventually("the share link on s2r1", func() bool {
		_, ok, err := other.Resolve(ctx, token)
		return err == nil && ok
	})

	// A sign-out through s1r2 is refused through s2r1.
	exp := time.Now().Add(time.Hour).Unix()
	if err := newRevocations(conns["s1r2"], cl, time.Now).add(ctx, "session-1", exp); err != nil {
		t.Fatal(err)
	}
	eventually("the revocation on s2r1", func() bool {
		return newRevocations(conns["s2r1"], cl, time.Now).has(ctx, "session-1")
	})

	// Two hosts' first starts settle on one noise key.
	for _, n := range []string{"s1r1", "s2r1"} {
		if _, err := privacy.NewKeysOn(conns[n], cl).Noise(ctx); err != nil {
			t.Fatal(err)
		}
	}
	eventually("one noise key on every host", func() bool {
		for _, conn := range conns {
			var n uint64
			if conn.QueryRow(ctx, "SELECT uniqExact(key) FROM noise_key").Scan(&n) != nil || n != 1 {
				return false
			}
		}
		return true
	})

	// The Grafana views exist on every host and read every shard.
	if err := grafana.PrepareOn(ctx, conns["s1r1"], cl, []grafana.Site{{Domain: "example.com", K: 1}}); err != nil {
		t.Fatal(err)
	}
	for name, conn := range conns {
		for _, v := range grafana.Views {
			var n uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM "+v).Scan(&n); err != nil {
				t.Fatalf("view %s on %s: %v", v, name, err)
			}
		}
	}
	// Every table but the counters' is whole on every host.
	for name, conn := range conns {
		rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = '"+db+"' AND engine LIKE '%MergeTree'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var table, engine string
			rows.Scan(&table, &engine)
			if !strings.HasPrefix(engine, "Replicated") {
				t.Errorf("%s: %s.%s is %s, want a replicated engine", name, db, table, engine)
			}
		}
		rows.Close()
	}
}

// The README's move from one server to a cluster, step by step, on real
// servers: the counters, the share links and the noise key of a database
// on one server are copied into the cluster's tables with INSERT … SELECT
// FROM remote(), each shard taking its part of the counters, and read
// back the same through the Distributed tables; a share link made before
// the move still resolves, and the noise key is the old one.
func TestClusterTakesOverOneServer(t *testing.T) {
	c := chtest.ClusterOrSkip(t)
	ctx := context.Background()
	oldURL, oldConn := chtest.Database(t)
	old := chtest.DB(oldConn)
	one, err := clickhouse.Open(ctx, clickhouse.Options{URL: oldURL})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if err := one.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	b := aggregator.NewBatch()
	for i := 0; i < 2000; i++ {
		day := time.Date(2026, time.Month(1+i%3), 1+i%28, i%24, 0, 0, 0, time.UTC)
		b.Web[counter.WebKey{Site: "example.com", Hour: counter.HourOf(day), Dimension: counter.DimPath, Value: fmt.Sprintf("/p/%d", i)}] =
			counter.WebCounts{Hits: int64(1 + i%7), Pageviews: int64(1 + i%7), Visitors: int64(i % 3)}
	}
	if err := one.Write(ctx, b, "before-the-move/web"); err != nil {
		t.Fatal(err)
	}
	token, _, err := share.New(one.Conn(), nil).Create(ctx, "example.com", "before", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := privacy.NewKeys(one.Conn()).Noise(ctx); err != nil {
		t.Fatal(err)
	}
	var oldKey string
	if err := oldConn.QueryRow(ctx, "SELECT key FROM "+old+".noise_key").Scan(&oldKey); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the key's time has seconds: the old one is older

	// Step 1: a collector in cluster mode makes the cluster's tables (and,
	// its dashboards, a noise key of their own).
	url, db := c.Database(t, "s1r1")
	cl, err := clickhouse.Open(ctx, clickhouse.Options{URL: url, Cluster: c.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := privacy.NewKeysOn(cl.Conn(), cl.Cluster()).Noise(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := share.NewOn(cl.Conn(), cl.Cluster(), nil).List(ctx, "example.com"); err != nil {
		t.Fatal(err) // makes the share links' table
	}
	// Step 2: each shard's first replica copies its part of the counters;
	// one host copies the small tables, which replicate to every host.
	from := "remote('" + strings.TrimPrefix(chtest.ServerURL(), "clickhouse://") + "', " + old + ", %s)"
	for i, node := range []string{"s1r1", "s2r1"} {
		conn := c.Conn(t, node)
		for _, table := range []string{"web_counters", "email_counters"} {
			q := "INSERT INTO " + db + "." + table + "_local SELECT * FROM " + fmt.Sprintf(from, table) +
				fmt.Sprintf(" WHERE cityHash64(site, dimension, value) %% 2 = %d", i)
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		conn.Close()
	}
	conn := c.Conn(t, "s1r1")
	defer conn.Close()
	for _, table := range []string{"share_links", "noise_key"} {
		if err := conn.Exec(ctx, "INSERT INTO "+db+"."+table+" SELECT * FROM "+fmt.Sprintf(from, table)); err != nil {
			t.Fatal(err)
		}
	}

	// Step 3: the collectors restart and read the same.
	var want, got [2]int64
	if err := oldConn.QueryRow(ctx, "SELECT sum(hits), toInt64(count()) FROM "+old+".web_counters").Scan(&want[0], &want[1]); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"s1r2", "s2r1"} {
		conn := c.Conn(t, node)
		conn.Exec(ctx, "SYSTEM SYNC REPLICA "+db+".web_counters_local")
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT sum(hits), count() FROM "+db+".web_counters").Scan(&got[0], &n); err != nil {
			t.Fatal(err)
		}
		got[1] = int64(n)
		conn.Close()
		if got != want {
			t.Fatalf("through %s: hits and rows %v, want %v", node, got, want)
		}
	}
	node, err := ch.Open(&ch.Options{Addr: []string{c.Node(t, "s2r1").Addr}, Auth: ch.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if _, ok, err := share.NewOn(node, cl.Cluster(), nil).Resolve(ctx, token); err != nil || !ok {
		t.Fatalf("the share link made before the move does not resolve through s2r1: %v", err)
	}
	var key string
	if err := node.QueryRow(ctx, "SELECT key FROM noise_key ORDER BY created, key LIMIT 1").Scan(&key); err != nil || key != oldKey {
		t.Fatalf("the noise key after the move is not the old one (%v)", err)
	}
}
