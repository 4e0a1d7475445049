package clickhouse

// Cluster mode (Options.Cluster, CLICKHOUSE_CLUSTER): the migrations run on
// every host (ON CLUSTER); web_counters and email_counters become
// Replicated…MergeTree tables web_counters_local and email_counters_local
// on every shard, with Distributed tables of the old names in front of
// them for the dashboards' reads (chmigrate.Cluster.Rewrite). Reads need
// no change: every query sums, and the sum of the shards is the sum.
//
// # Writes go to one shard's local table, not through Distributed
//
// Each write (one chunk of at most FlushRows rows, one table) goes whole
// to one shard, chosen by its token: to the first replica of that shard
// that answers, into its local table. The same token always picks the same
// shard, so a retry reaches the replicas that may hold the first attempt,
// and the block it sends is the one sent before (the same rows under the
// same token). A replicated table remembers the hash of the blocks it
// stored (the last replicated_deduplication_window of them, 10,000 here,
// kept in ZooKeeper for every replica of the shard) and drops an equal
// one: that is native on every version, 18.16 included, with no token
// setting. So in cluster mode a write whose outcome is unknown (the
// connection cut after the insert was sent, a replica killed mid-write) is
// simply retried: the ambiguous case of one 18.16 server disappears.
//
// Two different writes can hold equal rows (one visitor, one page, twice
// in an hour), and the server would take the second for a retry of the
// first. So every block carries, in each month (partition) it touches, one
// marker row: site "", dimension MarkerDimension, value the write's token,
// every count 0. The marker makes each write's block unique and each
// retry's block identical; it is never read (every query names a site and
// a dimension), and a SummingMergeTree deletes a row whose sums are all 0
// when it merges the part. The order of rows does not matter: the hash is
// that of the part as stored, sorted by the table's key, and a batch has
// each key once.
//
// Writing through the Distributed table instead was measured (the cluster
// tests' TestClusterWritePaths, BENCHMARKS.md) and not chosen: an
// asynchronous Distributed insert is acknowledged once it is on the
// receiving host's disk, split by the sharding key and sent on later, in
// blocks that the background sender may merge (so a retry is no longer the
// same block anywhere), and a host that dies holds inserts nobody else can
// send; a synchronous one (insert_distributed_sync) waits for every shard
// a block touches, so one shard down fails every write. Direct writes cost
// the collector one connection pool per shard and nothing else: it learns
// the shards from system.clusters of the server it is given.
//
// The shard of a token depends on the number of shards: a cluster that
// grows must be given its new shard while the collectors' spools are empty
// (stop them with SIGTERM, which flushes, add the shard, start them).

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// MarkerDimension is the dimension of the rows that make each cluster
// write's block unique (see above). No query reads it.
const MarkerDimension = "_write"

// checkLayout refuses a database made in the other mode: one-server
// tables under cluster mode (or the reverse) would be skipped by every
// CREATE … IF NOT EXISTS and fail later, less clearly.
func (s *Sink) checkLayout(ctx context.Context) error {
	var engine string
	// The database is a checked identifier; bound arguments hang on 18.16.
	rows, err := s.conn.Query(ctx, "SELECT engine FROM system.tables WHERE database = '"+s.database+"' AND name = 'web_counters'")
	if err != nil {
		return fmt.Errorf("cannot read the tables of %s: %w", s.database, err)
	}
	for rows.Next() {
		if err := rows.Scan(&engine); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read the tables of %s: %w", s.database, err)
		}
	}
	rows.Close()
	switch {
	case engine == "":
		return nil // a new database
	case s.cluster.On() && engine != "Distributed":
		return fmt.Errorf("%w: database %s holds one-server tables (web_counters is %s); cluster mode needs a database of its own, into which the old one can be copied (README, Scale out)", ErrSchema, s.database, engine)
	case !s.cluster.On() && engine == "Distributed":
		return fmt.Errorf("%w: database %s is a cluster's (web_counters is Distributed); set CLICKHOUSE_CLUSTER", ErrSchema, s.database)
	}
	return nil
}

// openShards reads the cluster's shards from system.clusters and opens one
// connection pool per shard, over its replicas in their configured order.
func (s *Sink) openShards(ctx context.Context) error {
	if len(s.shards) > 0 {
		return nil
	}
	// The name is a checked identifier; bound arguments hang on 18.16.
	rows, err := s.conn.Query(ctx, "SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = '"+
		s.cluster.Name+"' ORDER BY shard_num, replica_num")
	if err != nil {
		return fmt.Errorf("cannot read the shards of cluster %s: %w", s.cluster.Name, err)
	}
	var order []uint32
	addrs := map[uint32][]string{}
	for rows.Next() {
		var shard uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &host, &port); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read the shards of cluster %s: %w", s.cluster.Name, err)
		}
		if len(addrs[shard]) == 0 {
			order = append(order, shard)
		}
		addrs[shard] = append(addrs[shard], net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read the shards of cluster %s: %w", s.cluster.Name, err)
	}
	if len(order) == 0 {
		return fmt.Errorf("cluster %s is not in the remote_servers of the server at %v", s.cluster.Name, s.admin.Addr)
	}
	shards := make([]driver.Conn, 0, len(order))
	for _, n := range order {
		opts := *s.admin
		opts.Addr = addrs[n]
		opts.Auth.Database = s.database
		// The first replica that answers: a dead one costs a refused
		// dial (or the dial timeout), then the next one is used.
		opts.ConnOpenStrategy = ch.ConnOpenInOrder
		conn, err := ch.Open(&opts)
		if err != nil {
			for _, c := range shards {
				c.Close()
			}
			return fmt.Errorf("cannot open a connection to shard %d: %w", n, err)
		}
		shards = append(shards, conn)
	}
	s.shards = shards
	return nil
}

// shardFor is the connection of the shard that token's writes go to,
// always the same one (see above). Called after Ready.
func (s *Sink) shardFor(token string) driver.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := fnv.New64a()
	h.Write([]byte(token))
	// The high bits, scaled: FNV's low bits follow the parity of the
	// token's bytes, and tokens differ in their last digits.
	return s.shards[(h.Sum64()>>32)*uint64(len(s.shards))>>32]
}

// markerMonths is the first instant of every month among hours (one per
// partition the block touches), or nothing without a marker.
func markerMonths(marker string, hours []time.Time) []time.Time {
	if marker == "" {
		return nil
	}
	seen := map[time.Time]bool{}
	var out []time.Time
	for _, h := range hours {
		m := time.Date(h.Year(), h.Month(), 1, 0, 0, 0, 0, time.UTC)
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
