package chtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cluster is the test cluster that scripts/cluster.sh starts: several
// clickhouse-server processes and a ZooKeeper on this machine. Its
// settings are read from $TALLY_CLUSTER_DIR/cluster.env (default
// /tmp/tally-cluster), which the script writes.
type Cluster struct {
	Name   string
	Nodes  []Node
	script string
	dir    string
}

// Node is one server of the cluster.
type Node struct {
	Name string // s1r1: shard 1, replica 1
	Addr string // host:port of its native protocol
}

// ClusterOrSkip returns the running test cluster. Without one it skips the
// test, saying how to start it, or fails it where TALLY_CLUSTER_REQUIRED
// is set (CI starts the cluster, and a cluster test that skips there would
// prove nothing).
func ClusterOrSkip(t testing.TB) *Cluster {
	t.Helper()
	dir := os.Getenv("TALLY_CLUSTER_DIR")
	if dir == "" {
		dir = "/tmp/tally-cluster"
	}
	miss := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("TALLY_CLUSTER_REQUIRED") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	f, err := os.Open(filepath.Join(dir, "cluster.env"))
	if err != nil {
		miss("no ClickHouse cluster (%v): run scripts/cluster.sh start first", err)
	}
	defer f.Close()
	c := &Cluster{dir: dir}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "TALLY_CLUSTER_NAME":
			c.Name = v
		case "TALLY_CLUSTER_SCRIPT":
			c.script = v
		case "TALLY_CLUSTER_NODES":
			for _, n := range strings.Fields(v) {
				name, url, _ := strings.Cut(n, "=")
				c.Nodes = append(c.Nodes, Node{Name: name, Addr: strings.TrimPrefix(url, "clickhouse://")})
			}
		}
	}
	if c.Name == "" || len(c.Nodes) < 3 {
		miss("%s/cluster.env names no cluster of three nodes: run scripts/cluster.sh start", dir)
	}
	for _, n := range c.Nodes {
		conn := c.Conn(t, n.Name)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := conn.Ping(ctx)
		cancel()
		conn.Close()
		if err != nil {
			miss("cluster node %s (%s) does not answer (%v): run scripts/cluster.sh start", n.Name, n.Addr, err)
		}
	}
	return c
}

// Node returns the node called name.
func (c *Cluster) Node(t testing.TB, name string) Node {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("the cluster has no node %s", name)
	return Node{}
}

// Conn opens a connection to one node, in the default database.
func (c *Cluster) Conn(t testing.TB, node string) driver.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{c.Node(t, node).Addr}, DialTimeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("cannot open a connection to %s: %v", node, err)
	}
	return conn
}

// Database makes a unique database name, dropped on every node when t
// ends (after the nodes a test stopped are started again), and returns a
// URL naming it on the given nodes, in order (the first that answers is
// used).
func (c *Cluster) Database(t testing.TB, nodes ...string) (url, name string) {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name = "ctest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn := c.Conn(t, c.Nodes[0].Name)
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" ON CLUSTER "+c.Name); err != nil {
			t.Logf("cannot drop %s: %v", name, err)
		}
	})
	if len(nodes) == 0 {
		nodes = []string{c.Nodes[0].Name}
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = c.Node(t, n).Addr
	}
	return "clickhouse://" + strings.Join(addrs, ",") + "/" + name, name
}

// Kill ends a node with SIGKILL (or "zk", ZooKeeper), and starts it again
// when t ends if the test did not.
func (c *Cluster) Kill(t testing.TB, node string) { c.run(t, "kill", node) }

// Stop ends a node with SIGTERM, as an operator would.
func (c *Cluster) Stop(t testing.TB, node string) { c.run(t, "stop", node) }

// Start starts a node that Kill or Stop ended, and waits until it answers.
func (c *Cluster) Start(t testing.TB, node string) { c.run(t, "start", node) }

// KillDuringInsert kills node -9 as soon as it runs an INSERT into table
// (seen in system.processes), or after limit; it says whether it caught
// one. The signal is sent from here, not through the script: the insert
// lasts milliseconds.
func (c *Cluster) KillDuringInsert(t testing.TB, node, table string, limit time.Duration) bool {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.dir, node, "pid"))
	if err != nil {
		t.Fatalf("no pid of %s: %v", node, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("bad pid of %s: %q", node, raw)
	}
	conn := c.Conn(t, node)
	caught := false
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		var n uint64
		if conn.QueryRow(context.Background(), "SELECT count() FROM system.processes WHERE query LIKE 'INSERT INTO "+table+"%'").Scan(&n) == nil && n > 0 {
			caught = true
			break
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	conn.Close()
	c.Kill(t, node) // waits for it to be gone, restarts it at the end
	return caught
}

func (c *Cluster) run(t testing.TB, cmd, node string) {
	t.Helper()
	if cmd != "start" {
		// Registered before the database's cleanup runs (cleanups run
		// last first): the drop needs every node.
		t.Cleanup(func() { c.run(t, "start", node) })
	}
	out, err := exec.Command(c.script, cmd, node).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s %s: %v\n%s", c.script, cmd, node, err, out)
	}
}
