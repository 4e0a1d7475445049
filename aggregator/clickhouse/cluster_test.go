package clickhouse_test

// Tests of cluster mode against the real cluster of scripts/cluster.sh
// (two shards, the first with two replicas, ZooKeeper): skipped, with the
// command to run, when it is not running.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/counter"
	"tally/internal/chtest"
)

// openCluster opens a sink in cluster mode on a fresh database.
func openCluster(t *testing.T, c *chtest.Cluster, dial func(context.Context, string) (net.Conn, error)) (*clickhouse.Sink, string) {
	t.Helper()
	url, db := c.Database(t, "s1r1")
	s, err := clickhouse.Open(context.Background(), clickhouse.Options{URL: url, Cluster: c.Name, DialContext: dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
	return s, db
}

// sums reads the web counters through node's Distributed table.
func sums(t *testing.T, c *chtest.Cluster, node, db string) (rows uint64, hits, pageviews int64) {
	t.Helper()
	conn := c.Conn(t, node)
	defer conn.Close()
	if err := conn.QueryRow(context.Background(), "SELECT count(), sum(hits), sum(pageviews) FROM "+db+
		".web_counters WHERE dimension != '"+clickhouse.MarkerDimension+"'").Scan(&rows, &hits, &pageviews); err != nil {
		t.Fatalf("cannot read %s through %s: %v", db, node, err)
	}
	return rows, hits, pageviews
}

func syncReplica(t *testing.T, c *chtest.Cluster, node, table string) {
	t.Helper()
	conn := c.Conn(t, node)
	defer conn.Close()
	if err := conn.Exec(context.Background(), "SYSTEM SYNC REPLICA "+table); err != nil {
		t.Fatalf("cannot sync %s on %s: %v", table, node, err)
	}
}

// randomBatch is n web rows over two months, with their totals.
func randomBatch(n int) (b *aggregator.Batch, hits int64) {
	b = aggregator.NewBatch()
	months := []time.Time{time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	for i := 0; i < n; i++ {
		k := counter.WebKey{Site: "example.com", Hour: counter.HourOf(months[i%2].Add(-time.Duration(rand.IntN(48)) * time.Hour)),
			Dimension: counter.DimPath, Value: fmt.Sprintf("/p/%d", rand.IntN(1_000_000))}
		c := b.Web[k]
		c.Hits++
		c.Pageviews++
		b.Web[k] = c
		hits++
	}
	return b, hits
}

// Exact counters through the cluster: many writes, spread over both shards
// by their tokens, read back equal through every node's Distributed table,
// and equal on both replicas of shard 1; a retried token is stored once,
// and two writes of equal rows (different tokens) both count.
func TestClusterCountsExactly(t *testing.T) {
	c := chtest.ClusterOrSkip(t)
	s, db := openCluster(t, c, nil)
	ctx := context.Background()
	if !s.Dedup() {
		t.Fatal("cluster mode must report native deduplication")
	}

	var want int64
	for i := 0; i < 40; i++ {
		b, n := randomBatch(200)
		token := fmt.Sprintf("t-%d/web", i)
		if err := s.Write(ctx, b, token); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		want += n
		if i%10 == 0 { // a retry of a stored write, as after a lost answer
			if err := s.Write(ctx, b, token); err != nil {
				t.Fatalf("retry %d: %v", i, err)
			}
		}
	}
	// One visitor, one page, twice in one hour: two writes of equal rows.
	same := aggregator.NewBatch()
	same.Web[counter.WebKey{Site: "example.com", Hour: counter.HourOf(time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)), Dimension: counter.DimPath, Value: "/same"}] =
		counter.WebCounts{Hits: 1, Pageviews: 1}
	for _, tok := range []string{"equal-1/web", "equal-2/web"} {
		if err := s.Write(ctx, same, tok); err != nil {
			t.Fatal(err)
		}
		want++
	}

	syncReplica(t, c, "s1r2", db+".web_counters_local")
	for _, n := range c.Nodes {
		_, hits, pv := sums(t, c, n.Name, db)
		if hits != want || pv != want {
			t.Fatalf("through %s: hits %d, page views %d; want %d (each write once)", n.Name, hits, pv, want)
		}
	}
	// Each shard holds part of it, and the replicas of shard 1 agree.
	local := map[string]int64{}
	for _, n := range c.Nodes {
		conn := c.Conn(t, n.Name)
		var h int64
		if err := conn.QueryRow(ctx, "SELECT sum(hits) FROM "+db+".web_counters_local").Scan(&h); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		local[n.Name] = h
	}
	t.Logf("hits per node's local table: %v (want %d in all)", local, want)
	if local["s1r1"] != local["s1r2"] || local["s1r1"] == 0 || local["s2r1"] == 0 || local["s1r1"]+local["s2r1"] != want {
		t.Fatalf("local tables hold %v: want both shards used, the replicas of shard 1 equal, and the shards summing to %d", local, want)
	}
}

// cutter makes connections of which it cuts one, once armed: after the
// client has sent an INSERT and its data, the read of the server's answer
// waits until the server has stored the block, then the connection is
// closed and the read fails, as when the network drops the answer. The
// client cannot know whether the rows were stored: the ambiguous case.
type cutter struct {
	armed atomic.Bool
	cuts  atomic.Int32
}

func (c *cutter) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: conn, c: c}, nil
}

type cutConn struct {
	net.Conn
	c     *cutter
	mu    sync.Mutex
	state int // 0 idle, 1 INSERT sent, 2 header read, 3 data sent
}

func (cc *cutConn) Write(p []byte) (int, error) {
	cc.mu.Lock()
	switch {
	case cc.c.armed.Load() && bytes.Contains(p, []byte("INSERT INTO")):
		cc.state = 1
	case cc.state == 2:
		cc.state = 3
	}
	cc.mu.Unlock()
	return cc.Conn.Write(p)
}

func (cc *cutConn) Read(p []byte) (int, error) {
	cc.mu.Lock()
	state := cc.state
	if state == 1 {
		cc.state = 2
	}
	cc.mu.Unlock()
	if state == 3 && cc.c.armed.CompareAndSwap(true, false) {
		time.Sleep(time.Second) // the server stores the block meanwhile
		cc.Conn.Close()
		cc.c.cuts.Add(1)
		return 0, errors.New("test: connection cut after the insert was sent")
	}
	return cc.Conn.Read(p)
}

func duplicatedBlocks(t *testing.T, c *chtest.Cluster) uint64 {
	t.Helper()
	var total uint64
	for _, n := range c.Nodes {
		conn := c.Conn(t, n.Name)
		var v uint64
		err := conn.QueryRow(context.Background(), "SELECT sum(value) FROM system.events WHERE event = 'DuplicatedInsertedBlocks'").Scan(&v)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += v
	}
	return total
}

// A retry after the connection was cut once the insert was sent lands on
// the replicated table's native deduplication: the count is exact, on
// ClickHouse 18.16 too, and the aggregator never drops the write as
// ambiguous.
func TestClusterRetryAfterCutIsDeduplicated(t *testing.T) {
	c := chtest.ClusterOrSkip(t)
	cut := &cutter{}
	s, db := openCluster(t, c, cut.dial)
	agg, err := aggregator.New(aggregator.Options{Sink: s, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hour := counter.HourOf(time.Now())
	const hits = 500
	for i := 0; i < hits; i++ {
		agg.AddWeb("example.com", hour, []aggregator.WebUpdate{
			{Dimension: counter.DimTotal, Counts: counter.WebCounts{Hits: 1, Pageviews: 1}},
			{Dimension: counter.DimPath, Value: fmt.Sprintf("/p/%d", i%50), Counts: counter.WebCounts{Hits: 1, Pageviews: 1}},
		})
	}
	before := duplicatedBlocks(t, c)
	ctx := context.Background()
	cut.armed.Store(true)
	err = agg.Flush(ctx)
	if cut.cuts.Load() != 1 {
		t.Fatalf("the connection was not cut (flush: %v)", err)
	}
	if err == nil || errors.Is(err, aggregator.ErrAmbiguous) {
		t.Fatalf("flush after the cut returned %v, want a plain error (rows kept for retry)", err)
	}
	if got := agg.Stats().AmbiguousHits; got != 0 {
		t.Fatalf("%d hits dropped as ambiguous: cluster mode must retry", got)
	}
	// The first attempt was stored: the answer was lost, not the rows.
	_, stored, _ := totals(t, c, db)
	if stored != hits {
		t.Fatalf("after the cut %d hits are stored, want %d (the cut must come after the server stored the block)", stored, hits)
	}
	if err := agg.Flush(ctx); err != nil {
		t.Fatalf("retry: %v", err)
	}
	_, stored, _ = totals(t, c, db)
	after := duplicatedBlocks(t, c)
	t.Logf("acknowledged %d hits, stored %d after the cut and the retry; the servers deduplicated %d block(s)", hits, stored, after-before)
	if stored != hits {
		t.Fatalf("after the retry %d hits are stored, want %d: counted twice", stored, hits)
	}
	if after <= before {
		t.Fatal("no server reports a deduplicated block: the retry was not the same block")
	}
}

// totals reads the total dimension through s1r1.
func totals(t *testing.T, c *chtest.Cluster, db string) (rows uint64, hits, pageviews int64) {
	t.Helper()
	conn := c.Conn(t, "s1r1")
	defer conn.Close()
	if err := conn.QueryRow(context.Background(), "SELECT count(), sum(hits), sum(pageviews) FROM "+db+
		".web_counters WHERE dimension = 'total'").Scan(&rows, &hits, &pageviews); err != nil {
		t.Fatal(err)
	}
	return rows, hits, pageviews
}

// The tables are what the design says on every node: replicated local
// counter tables under Distributed ones, the migrations record replicated
// to every host; a second start (on another node) finds everything in
// place.
func TestClusterSchema(t *testing.T) {
	c := chtest.ClusterOrSkip(t)
	_, db := openCluster(t, c, nil)
	for _, n := range c.Nodes {
		conn := c.Conn(t, n.Name)
		engines := map[string]string{}
		rows, err := conn.Query(context.Background(), "SELECT name, engine FROM system.tables WHERE database = '"+db+"'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, engine string
			rows.Scan(&name, &engine)
			engines[name] = engine
		}
		rows.Close()
		conn.Close()
		want := map[string]string{
			"web_counters_local": "ReplicatedSummingMergeTree", "web_counters": "Distributed",
			"email_counters_local": "ReplicatedSummingMergeTree", "email_counters": "Distributed",
			"schema_migrations": "ReplicatedReplacingMergeTree",
		}
		for name, e := range want {
			if engines[name] != e {
				t.Errorf("%s: %s is %q, want %s (all: %v)", n.Name, name, engines[name], e, engines)
			}
		}
	}
	// Another collector, started on another node, applies nothing twice.
	url := "clickhouse://" + c.Node(t, "s2r1").Addr + "/" + db
	s, err := clickhouse.Open(context.Background(), clickhouse.Options{URL: url, Cluster: c.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("second start: %v", err)
	}
	conn := c.Conn(t, "s2r1")
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".schema_migrations FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if n != uint64(len(files)) {
		t.Fatalf("schema_migrations holds %d versions on s2r1, want %d (each migration once)", n, len(files))
	}
}

// A database made in one mode is refused in the other, saying why.
func TestClusterRefusesAOneServerDatabase(t *testing.T) {
	c := chtest.ClusterOrSkip(t)
	url, _ := c.Database(t, "s1r1")
	ctx := context.Background()
	one, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if err := one.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url, Cluster: c.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Ready(ctx)
	if !errors.Is(err, clickhouse.ErrSchema) || !strings.Contains(err.Error(), "one-server tables") {
		t.Fatalf("cluster mode on a one-server database: %v, want ErrSchema naming the one-server tables", err)
	}
	_, db := openCluster(t, c, nil)
	back, err := clickhouse.Open(ctx, clickhouse.Options{URL: "clickhouse://" + c.Node(t, "s1r1").Addr + "/" + db})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if err := back.Ready(ctx); !errors.Is(err, clickhouse.ErrSchema) {
		t.Fatalf("one-server mode on a cluster's database: %v, want ErrSchema", err)
	}
}
