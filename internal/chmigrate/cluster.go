package chmigrate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cluster says where migrations run. The zero value is one server: every
// statement runs as written. With Name set, every statement runs on every
// host of that cluster (ON CLUSTER, which needs <distributed_ddl> in the
// servers' config) with a replicated engine, rewritten by Rewrite, so that
// each migration file is written once, for one server, and a single-server
// deployment runs exactly what it ran before cluster mode existed.
type Cluster struct {
	// Name is the cluster in the servers' <remote_servers>.
	Name string
	// Database holds the tables. Statements are qualified with it: a
	// distributed DDL runs on the other hosts in their default database.
	Database string
	// Sharded names the tables whose rows are spread over the shards (the
	// counters). Every other table is small and kept whole on every host.
	Sharded []string
	// DedupWindow is replicated_deduplication_window of the sharded
	// tables' local tables: how many recent inserts each shard remembers,
	// so that a retry of one of them is dropped (0: the server's default).
	DedupWindow int
}

// LocalSuffix names a sharded table's local table: t_local holds one
// shard's rows of t, and t is the Distributed table that reads them all.
const LocalSuffix = "_local"

// ZooKeeper paths of the replicated tables. {shard} and {replica} are the
// servers' macros, expanded by each server; the cluster and the database
// are written out (18.16 has no {database} macro), so that two databases
// on one cluster never share a path.
const (
	shardedPath    = "/clickhouse/tables/%s/{shard}/%s/%s"
	everywherePath = "/clickhouse/tables/%s/all/%s/%s"
	// A table kept whole on every host has one replica per host; a
	// replica name unique across the cluster is made of both macros, as
	// {replica} is often only unique within its shard.
	everywhereReplica = "{shard}-{replica}"
	shardedReplica    = "{replica}"
)

// On reports whether c is a cluster (not one server).
func (c Cluster) On() bool { return c.Name != "" }

// Validate checks the names that the rewritten statements embed.
func (c Cluster) Validate() error {
	if !c.On() {
		return nil
	}
	if !identRe.MatchString(c.Name) {
		return fmt.Errorf("cluster name %q is not a plain identifier", c.Name)
	}
	if !identRe.MatchString(c.Database) {
		return fmt.Errorf("database name %q is not a plain identifier", c.Database)
	}
	for _, t := range c.Sharded {
		if !tableRe.MatchString(t) {
			return fmt.Errorf("sharded table %q is not a plain identifier", t)
		}
	}
	return nil
}

// OnCluster is " ON CLUSTER name", or "" on one server: for the statements
// a caller writes itself (CREATE DATABASE, views).
func (c Cluster) OnCluster() string {
	if !c.On() {
		return ""
	}
	return " ON CLUSTER " + c.Name
}

// Local is the table that holds t's rows on one host: t itself on one
// server and for tables kept whole, t_local for a sharded table.
func (c Cluster) Local(t string) string {
	if c.On() && slices.Contains(c.Sharded, t) {
		return t + LocalSuffix
	}
	return t
}

var (
	createRe = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([a-z_][a-z0-9_]*)\s*(\(.*\))\s*ENGINE\s*=\s*([A-Za-z]*MergeTree)(?:\s*\(([^()]*)\))?(.*)$`)
	alterRe  = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+([a-z_][a-z0-9_]*)\s+(.*)$`)
	// Column changes must reach the Distributed table too; any other
	// ALTER (partitions, settings) is of the data, held in the local
	// tables only.
	columnAlterRe = regexp.MustCompile(`(?i)^(ADD|DROP|MODIFY|RENAME|CLEAR|COMMENT)\s+COLUMN\b`)
)

// Rewrite turns one statement written for one server into the statements
// that do the same on the cluster:
//
//   - CREATE TABLE IF NOT EXISTS t (…) ENGINE = XMergeTree[(args)] … of a
//     sharded table: t_local on every host, ReplicatedXMergeTree over
//     /clickhouse/tables/<cluster>/{shard}/<db>/t_local (one copy per
//     shard, each replica of the shard holding it), then t, a Distributed
//     table over every shard's t_local, for reads.
//   - the same for any other table: t on every host, ReplicatedXMergeTree
//     over /clickhouse/tables/<cluster>/all/<db>/t, one replica per host:
//     every host holds the whole table, so reads of it stay local.
//   - ALTER TABLE t …: ON CLUSTER, on t_local, and for a sharded table
//     whose columns change, t is made again over the altered t_local;
//     else on t.
//
// Anything else is refused rather than run on one host only. On one
// server, Rewrite returns the statement unchanged.
func (c Cluster) Rewrite(stmt string) ([]string, error) {
	if !c.On() {
		return []string{stmt}, nil
	}
	stmt = strings.TrimSpace(stmt)
	if m := createRe.FindStringSubmatch(stmt); m != nil {
		name, cols, engine, args, rest := m[1], m[2], m[3], strings.TrimSpace(m[4]), m[5]
		if strings.HasPrefix(engine, "Replicated") {
			return nil, fmt.Errorf("table %s: migrations are written for one server, with a plain engine; the cluster makes it replicated", name)
		}
		replicated := func(path, replica string) string {
			e := fmt.Sprintf("Replicated%s('%s', '%s'", engine, path, replica)
			if args != "" {
				e += ", " + args
			}
			return e + ")"
		}
		if !slices.Contains(c.Sharded, name) {
			return []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s %s ENGINE = %s%s",
				c.Database, name, c.Name, cols, replicated(fmt.Sprintf(everywherePath, c.Name, c.Database, name), everywhereReplica), rest)}, nil
		}
		local := name + LocalSuffix
		if c.DedupWindow > 0 {
			if regexp.MustCompile(`(?i)\bSETTINGS\b`).MatchString(rest) {
				rest += fmt.Sprintf(", replicated_deduplication_window = %d", c.DedupWindow)
			} else {
				rest += fmt.Sprintf(" SETTINGS replicated_deduplication_window = %d", c.DedupWindow)
			}
		}
		return []string{
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s %s ENGINE = %s%s",
				c.Database, local, c.Name, cols, replicated(fmt.Sprintf(shardedPath, c.Name, c.Database, local), shardedReplica), rest),
			// rand(): the sink writes to one shard's local table itself
			// (see the sink's doc); the key only matters to a hand-made
			// insert through the Distributed table.
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s ENGINE = Distributed(%s, %s, %s, rand())",
				c.Database, name, c.Name, c.Database, local, c.Name, c.Database, local),
		}, nil
	}
	if m := alterRe.FindStringSubmatch(stmt); m != nil {
		name, rest := m[1], m[2]
		alter := func(t string) string {
			return fmt.Sprintf("ALTER TABLE %s.%s ON CLUSTER %s %s", c.Database, t, c.Name, rest)
		}
		if !slices.Contains(c.Sharded, name) {
			return []string{alter(name)}, nil
		}
		local := name + LocalSuffix
		out := []string{alter(local)}
		if columnAlterRe.MatchString(rest) {
			// The Distributed table holds no data: it is made again from
			// the altered local table. (An ALTER … ON CLUSTER of it is
			// refused by 18.16, which sees a table that is not replicated
			// on shards that are.)
			out = append(out,
				fmt.Sprintf("DROP TABLE IF EXISTS %s.%s ON CLUSTER %s", c.Database, name, c.Name),
				fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s ENGINE = Distributed(%s, %s, %s, rand())",
					c.Database, name, c.Name, c.Database, local, c.Name, c.Database, local))
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot run %.60q on a cluster: migrations may only CREATE TABLE IF NOT EXISTS a MergeTree table or ALTER TABLE", stmt)
}

// Columns adds, for every sharded table of want, its local table with
// the same columns: in a cluster, a write goes to the local table and a
// read to the Distributed one, and both must be what the code expects.
func (c Cluster) Columns(want map[string][]Column) map[string][]Column {
	out := make(map[string][]Column, len(want))
	for t, cols := range want {
		out[t] = cols
		if c.Local(t) != t {
			out[c.Local(t)] = cols
		}
	}
	return out
}

// codeTimeout is TIMEOUT_EXCEEDED: a distributed DDL that some host has
// not run within distributed_ddl_task_timeout (it is down). The task stays
// queued in ZooKeeper and that host runs it when it comes back.
const codeTimeout = 159

// ErrQueued is wrapped by ExecOn when a distributed DDL ran on the hosts
// that are up and waits in the queue for the others.
var ErrQueued = errors.New("applied on the hosts that answered; queued for the others")

// ExecOn runs one statement on c (see Exec). A distributed DDL that some
// host did not run in time wraps ErrQueued.
func (c Cluster) ExecOn(ctx context.Context, conn driver.Conn, stmt string) error {
	err := Exec(ctx, conn, stmt)
	var exc *ch.Exception
	if c.On() && errors.As(err, &exc) && exc.Code == codeTimeout {
		return fmt.Errorf("%w: %w", ErrQueued, err)
	}
	return err
}
