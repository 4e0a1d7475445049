package dashboards

import (
	"context"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/aggregator/clickhouse"
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
	token, _, err := share.NewOn(conns["s1r1"], cl, nil).Create(ctx, "example.com", "board")
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
