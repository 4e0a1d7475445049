package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"tally/aggregator"
	"tally/internal/chtest"
)

// TestClusterWritePaths measures the two ways to write to the cluster, for
// BENCHMARKS.md: the sink's (each chunk whole to one shard's local table,
// chosen by its token) and through the Distributed table (asynchronous,
// the default, and synchronous), with the same chunks: the time of a
// write as the collector sees it, the servers' CPU, and whether a resent
// chunk (a retry after a lost answer) is counted once. It is a
// measurement, run on demand: TALLY_CLUSTER_BENCH=1.
func TestClusterWritePaths(t *testing.T) {
	if os.Getenv("TALLY_CLUSTER_BENCH") == "" {
		t.Skip("a measurement: set TALLY_CLUSTER_BENCH=1 (with scripts/cluster.sh running)")
	}
	c := chtest.ClusterOrSkip(t)
	const writes, rows = 40, 2000
	batches := make([]*aggregator.Batch, writes)
	var want int64
	for i := range batches {
		var n int64
		batches[i], n = randomBatch(rows)
		want += n
	}
	ctx := context.Background()
	var report strings.Builder
	report.WriteString("| path | median write | p95 write | servers' CPU per 1,000 rows | readable after the last ack | a resent chunk |\n|---|---:|---:|---:|---:|---|\n")
	for _, path := range []string{"direct to one shard's local table (the sink)", "Distributed, asynchronous (default)", "Distributed, insert_distributed_sync=1"} {
		s, db := openCluster(t, c, nil)
		entry := c.Conn(t, "s1r1")
		write := func(b *aggregator.Batch, token string) error {
			if strings.HasPrefix(path, "direct") {
				return s.Write(ctx, b, token)
			}
			wctx := ctx
			if strings.Contains(path, "sync=1") {
				wctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_distributed_sync": 1}))
			}
			batch, err := entry.PrepareBatch(wctx, "INSERT INTO "+db+".web_counters (site, hour, dimension, value, hits, pageviews, visitors)")
			if err != nil {
				return err
			}
			for k, v := range b.Web {
				if err := batch.Append(k.Site, time.Unix(k.Hour, 0).UTC(), k.Dimension, k.Value, v.Hits, v.Pageviews, v.Visitors); err != nil {
					return err
				}
			}
			return batch.Send()
		}
		cpu0 := serversCPU(t, c)
		var took []time.Duration
		for i, b := range batches {
			start := time.Now()
			if err := write(b, fmt.Sprintf("w%d/web", i)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			took = append(took, time.Since(start))
		}
		acked := time.Now()
		var readable time.Duration
		for {
			_, hits, _ := sums(t, c, "s1r1", db)
			if hits == want {
				readable = time.Since(acked)
				break
			}
			if time.Since(acked) > 60*time.Second {
				t.Fatalf("%s: %d of %d hits readable after 60s", path, hits, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cpu := serversCPU(t, c) - cpu0
		// A retry of a stored chunk: the same rows, the same token.
		if err := write(batches[0], "w0/web"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // an asynchronous insert is sent on later
		_, hits, _ := sums(t, c, "s1r1", db)
		resent := "counted once"
		if hits != want {
			resent = fmt.Sprintf("counted twice (%d extra hits)", hits-want)
		}
		uptime, _ := os.ReadFile("/proc/loadavg")
		t.Logf("%s done; load average %s", path, strings.Fields(string(uptime))[0])
		slices.Sort(took)
		fmt.Fprintf(&report, "| %s | %.1f ms | %.1f ms | %.1f ms | %.0f ms | %s |\n", path,
			ms(took[len(took)/2]), ms(took[len(took)*95/100]), ms(cpu)/float64(writes*rows/1000), ms(readable), resent)
		entry.Close()
	}
	t.Logf("%d writes of %d rows (two months, one site), cluster of scripts/cluster.sh:\n%s", writes, rows, report.String())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// serversCPU is the user and system CPU time the cluster's servers used
// since they started (from /proc).
func serversCPU(t *testing.T, c *chtest.Cluster) time.Duration {
	t.Helper()
	dir := os.Getenv("TALLY_CLUSTER_DIR")
	if dir == "" {
		dir = "/tmp/tally-cluster"
	}
	var total time.Duration
	for _, n := range c.Nodes {
		raw, err := os.ReadFile(filepath.Join(dir, n.Name, "pid"))
		if err != nil {
			t.Fatal(err)
		}
		stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(raw)) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		// Fields after the command's closing parenthesis: utime and stime
		// are the 12th and 13th, in clock ticks (100 a second on Linux).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(u+s) * 10 * time.Millisecond
	}
	return total
}
