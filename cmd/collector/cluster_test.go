package main

// Faults of a ClickHouse cluster (scripts/cluster.sh: shard 1 on s1r1 and
// s1r2, shard 2 on s2r1, ZooKeeper), met by a collector in cluster mode
// running as a child process: a replica killed under load and brought
// back, a whole shard down. Each compares the page views acknowledged
// (202) with those stored, which must be equal: in cluster mode a retry is
// deduplicated by the servers, so nothing is dropped as ambiguous and
// nothing is counted twice. Skipped when the cluster is not running.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tally/internal/chtest"
)

const clusterAPIToken = "cluster-test-api-token-0123456789"

// clusterRun is a collector in cluster mode on a fresh database.
type clusterRun struct {
	*fault
	c *chtest.Cluster
}

// newClusterRun prepares a collector whose CLICKHOUSE_URL names entry, the
// nodes it connects to for migrations and the dashboards' reads.
func newClusterRun(t *testing.T, entry ...string) *clusterRun {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster faults skipped in -short mode")
	}
	c := chtest.ClusterOrSkip(t)
	url, db := c.Database(t, entry...)
	f := &fault{t: t, dir: t.TempDir(), db: db, got: &acks{}}
	f.spool = filepath.Join(f.dir, "spool")
	sum := sha256.Sum256([]byte(clusterAPIToken))
	sitesPath := filepath.Join(f.dir, "sites.json")
	os.WriteFile(sitesPath, []byte(`{"sites":[{"domain":"example.com","api_tokens":["sha256:`+hex.EncodeToString(sum[:])+`"]}]}`), 0o600)
	f.env = []string{
		"CLICKHOUSE_URL=" + url,
		"CLICKHOUSE_CLUSTER=" + c.Name,
		"SITES_FILE=" + sitesPath,
		"SPOOL_DIR=" + f.spool,
		"SYNC_INTERVAL=" + faultSync.String(),
		"FLUSH_INTERVAL=" + faultFlush.String(),
		"INSERT_TIMEOUT=3s",
		"DEV=true",
		"LOG_LEVEL=info",
		"RATE_LIMIT=-1",
		"METRICS_ADDR=-", "METRICS_TOKEN=" + testMetricsToken,
	}
	f.addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	f.logPath = filepath.Join(f.dir, "collector.log")
	return &clusterRun{fault: f, c: c}
}

// storedOn is the page views of the total dimension read through node's
// Distributed table.
func (r *clusterRun) storedOn(node string) int64 {
	r.t.Helper()
	conn := r.c.Conn(r.t, node)
	defer conn.Close()
	var n int64
	if err := conn.QueryRow(context.Background(), "SELECT sum(pageviews) FROM "+r.db+
		".web_counters WHERE site = 'example.com' AND dimension = 'total'").Scan(&n); err != nil {
		r.t.Fatalf("cannot read through %s: %v", node, err)
	}
	return n
}

// localOn is the page views in node's local table, after it caught up
// with its shard's replication queue.
func (r *clusterRun) localOn(node string) int64 {
	r.t.Helper()
	conn := r.c.Conn(r.t, node)
	defer conn.Close()
	ctx := context.Background()
	if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+r.db+".web_counters_local"); err != nil {
		r.t.Fatalf("cannot sync %s: %v", node, err)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT sum(pageviews) FROM "+r.db+
		".web_counters_local WHERE site = 'example.com' AND dimension = 'total'").Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// dashboards asks the stats API every 200 ms until stop is closed, and
// counts answers: ok (200) and failed (anything else, with the reasons).
type dashboardProbe struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	reasons    map[string]int
}

func probeDashboards(addr string, stop <-chan struct{}) *dashboardProbe {
	p := &dashboardProbe{reasons: map[string]int{}}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/stats/example.com/totals", nil)
			req.Header.Set("Authorization", "Bearer "+clusterAPIToken)
			resp, err := client.Do(req)
			reason := ""
			if err != nil {
				reason = err.Error()
			} else {
				if resp.StatusCode != http.StatusOK {
					sc := bufio.NewScanner(resp.Body)
					sc.Scan()
					reason = fmt.Sprintf("%d %.120s", resp.StatusCode, sc.Text())
				}
				resp.Body.Close()
			}
			if reason == "" {
				p.ok.Add(1)
				continue
			}
			p.failed.Add(1)
			p.mu.Lock()
			p.reasons[reason]++
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *dashboardProbe) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d answered, %d failed %v", p.ok.Load(), p.failed.Load(), p.reasons)
}

// spoolSegments reads tally_spool_segments from /metrics.
func spoolSegments(addr string) int64 {
	resp, err := getMetrics(addr)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "tally_spool_segments "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	return -1
}

// One replica of shard 1 killed -9 under load and brought back: its shard
// is written through the other replica meanwhile, a write cut short by the
// kill is retried there and deduplicated, the dashboards (reading through
// s2r1) answer throughout, and after the replica has caught up both
// replicas hold every acknowledged page view once.
func TestClusterReplicaKilledUnderLoad(t *testing.T) {
	r := newClusterRun(t, "s2r1", "s1r2")
	child := r.start()
	stop := make(chan struct{})
	probe := probeDashboards(r.addr, stop)

	start := time.Now()
	done := make(chan struct{})
	go func() { defer close(done); r.traffic(9*time.Second, true) }()
	time.Sleep(2 * time.Second)
	dedupBefore := r.deduplicated()
	// The replica shard 1's writes go to first, killed while it stores one.
	caught := r.c.KillDuringInsert(t, "s1r1", "web_counters_local", 5*time.Second)
	killed := r.got.count()
	time.Sleep(3 * time.Second)
	r.c.Start(t, "s1r1")
	<-done
	close(stop)
	r.term(child)
	took := time.Since(start)

	acked := int64(r.got.count())
	stored, s1r1, s1r2 := r.storedOn("s2r1"), r.localOn("s1r1"), r.localOn("s1r2")
	t.Logf("CLUSTER replica killed under load: acknowledged %d (%d before the kill), stored %d (through s2r1), shard 1 replicas %d / %d, killed during an insert %v, failed writes retried %d, blocks deduplicated %d, ambiguous %d; dashboards: %s; %v",
		acked, killed, stored, s1r1, s1r2, caught, r.failedWrites(), r.deduplicated()-dedupBefore, r.ambiguousHits(), probe, took.Round(100*time.Millisecond))
	if acked == 0 || killed == 0 || killed == int(acked) {
		t.Fatal("traffic did not run on both sides of the kill: the test proves nothing")
	}
	if stored != acked {
		t.Fatalf("stored %d page views, acknowledged %d: want equal (nothing lost, nothing twice)\n%s", stored, acked, r.logs())
	}
	if s1r1 != s1r2 {
		t.Fatalf("the replicas of shard 1 disagree after catching up: %d and %d", s1r1, s1r2)
	}
	if probe.failed.Load() > 0 || probe.ok.Load() == 0 {
		t.Fatalf("the dashboards must answer throughout: %s", probe)
	}
}

// A whole shard down (its only replica killed): the writes whose token
// belongs to it fail, the collector keeps accepting and spools, and
// replays when the shard is back; every acknowledged page view is then
// stored once.
func TestClusterShardDownSpoolsAndReplays(t *testing.T) {
	r := newClusterRun(t, "s1r1", "s1r2")
	child := r.start()
	stop := make(chan struct{})
	probe := probeDashboards(r.addr, stop)

	start := time.Now()
	r.traffic(1500*time.Millisecond, true)
	r.c.Kill(t, "s2r1")
	down := time.Now()
	r.traffic(4*time.Second, true)
	spooled := spoolSegments(r.addr)
	storedDown := r.storedOnShard1()
	r.c.Start(t, "s2r1")
	back := time.Since(down)
	r.traffic(2*time.Second, true)
	close(stop)
	r.term(child)
	took := time.Since(start)

	acked := int64(r.got.count())
	stored := r.storedOn("s1r1")
	t.Logf("CLUSTER shard down: acknowledged %d, stored %d, failed writes retried %d, ambiguous %d; while shard 2 was down (%v): %d spool segments waiting, %d page views readable on shard 1; dashboards: %s; %v",
		acked, stored, r.failedWrites(), r.ambiguousHits(), back.Round(100*time.Millisecond), spooled, storedDown, probe, took.Round(100*time.Millisecond))
	if spooled <= 0 {
		t.Fatalf("nothing waited in the spool while a shard was down (%d segments): the test proves nothing", spooled)
	}
	if stored != acked {
		t.Fatalf("stored %d page views, acknowledged %d: want equal\n%s", stored, acked, r.logs())
	}
}

// storedOnShard1 is what shard 1 holds (its local table on s1r2).
func (r *clusterRun) storedOnShard1() int64 {
	r.t.Helper()
	conn := r.c.Conn(r.t, "s1r2")
	defer conn.Close()
	var n int64
	if err := conn.QueryRow(context.Background(), "SELECT sum(pageviews) FROM "+r.db+
		".web_counters_local WHERE site = 'example.com' AND dimension = 'total'").Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// failedWrites counts the writes the collector logged as failed and kept
// for retry.
func (r *clusterRun) failedWrites() int {
	return strings.Count(r.logs(), "flush failed; rows kept for retry")
}

// deduplicated is the blocks the cluster's servers dropped as already
// stored, since they started.
func (r *clusterRun) deduplicated() uint64 {
	r.t.Helper()
	var total uint64
	for _, n := range r.c.Nodes {
		conn := r.c.Conn(r.t, n.Name)
		var v uint64
		conn.QueryRow(context.Background(), "SELECT sum(value) FROM system.events WHERE event = 'DuplicatedInsertedBlocks'").Scan(&v)
		conn.Close()
		total += v
	}
	return total
}
