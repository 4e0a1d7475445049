// Package chtest gives tests a fresh database on a real ClickHouse server
// (never a mock). The server is CLICKHOUSE_TEST_URL, default
// clickhouse://127.0.0.1:9000; the README's test command starts one.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ServerURL is the test server's base URL, without a database.
func ServerURL() string {
	if u := os.Getenv("CLICKHOUSE_TEST_URL"); u != "" {
		return u
	}
	return "clickhouse://127.0.0.1:9000"
}

// Database makes a uniquely named database name for t, dropped when t ends,
// and returns a URL naming it plus a connection for assertions. The
// database itself is created by whoever opens the URL (the sink does).
func Database(t testing.TB) (url string, conn driver.Conn) {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	opts, err := ch.ParseDSN(ServerURL() + "/default")
	if err != nil {
		t.Fatalf("bad CLICKHOUSE_TEST_URL: %v", err)
	}
	opts.DialTimeout = 3 * time.Second
	conn, err = ch.Open(opts)
	if err != nil {
		t.Fatalf("cannot open ClickHouse at %s: %v", ServerURL(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("ClickHouse is not reachable at %s (start it with scripts/test.sh): %v", ServerURL(), err)
	}
	t.Cleanup(func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name)
		conn.Close()
	})
	return ServerURL() + "/" + name, &dbConn{Conn: conn, db: name}
}

// dbConn qualifies nothing itself; it only remembers the database so tests
// can read DB() for fully qualified queries.
type dbConn struct {
	driver.Conn
	db string
}

// DB returns the test database name of a connection made by Database.
func DB(c driver.Conn) string {
	if d, ok := c.(*dbConn); ok {
		return d.db
	}
	return ""
}
