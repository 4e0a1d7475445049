package clickhouse_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/counter"
	"tally/internal/chmigrate"
	"tally/internal/chtest"
)

// TestWriteCarriesClicks: every email counter reaches its column.
func TestWriteCarriesClicks(t *testing.T) {
	url, conn := chtest.Database(t)
	ctx := context.Background()
	s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hour := counter.HourOf(time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC))
	b := aggregator.NewBatch()
	k := counter.EmailKey{Site: "example.com", Campaign: "spring", Hour: hour, Dimension: counter.DimLink, Value: counter.LinkValue("cta", "shop.example.com/spring")}
	want := counter.EmailCounts{Sent: 1, Opens: 2, UniqueOpens: 3, MachineOpens: 4, Clicks: 5, UniqueClicks: 6, MachineClicks: 7, ImpliedOpens: 8}
	b.Email[k] = want
	if err := s.Write(ctx, b, ""); err != nil {
		t.Fatal(err)
	}
	var got counter.EmailCounts
	var value string
	if err := conn.QueryRow(ctx, "SELECT any(value), sum(sent), sum(opens), sum(unique_opens), sum(machine_opens), sum(clicks), sum(unique_clicks), sum(machine_clicks), sum(implied_opens) FROM "+
		chtest.DB(conn)+".email_counters WHERE dimension = 'link'").Scan(&value, &got.Sent, &got.Opens, &got.UniqueOpens, &got.MachineOpens,
		&got.Clicks, &got.UniqueClicks, &got.MachineClicks, &got.ImpliedOpens); err != nil {
		t.Fatal(err)
	}
	if got != want || value != k.Value {
		t.Fatalf("stored %q %+v, want %q %+v", value, got, k.Value, want)
	}
}

// TestClicksMigrationUpgradesAnOlderDatabase: a database made before
// clicks (migration 1 only, with counters in it) gains the click columns,
// its rows read zero clicks, and a start that added the columns but did
// not record the migration (stopped in between) is finished by the next.
func TestClicksMigrationUpgradesAnOlderDatabase(t *testing.T) {
	url, conn := chtest.Database(t)
	ctx := context.Background()
	db := chtest.DB(conn)
	first, err := os.ReadFile("migrations/0001_counters.sql")
	if err != nil {
		t.Fatal(err)
	}
	old := []chmigrate.Migration{{Version: 1, Name: "0001_counters.sql"}}
	for _, stmt := range strings.Split(string(first), ";") {
		if lines := strings.TrimSpace(stripComments(stmt)); lines != "" {
			old[0].Statements = append(old[0].Statements, lines)
		}
	}
	// Migration 1 alone, through a connection to the test database.
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	opts, err := ch.ParseDSN(url)
	if err != nil {
		t.Fatal(err)
	}
	dbConn, err := ch.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dbConn.Close()
	if err := chmigrate.Apply(ctx, dbConn, "schema_migrations", old); err != nil {
		t.Fatal(err)
	}
	batch, err := dbConn.PrepareBatch(ctx, "INSERT INTO email_counters (site, campaign, hour, dimension, value, sent, opens, unique_opens, machine_opens)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append("example.com", "old", time.Now().UTC().Truncate(time.Hour), "total", "", int64(10), int64(3), int64(2), int64(1)); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	start := func() {
		t.Helper()
		s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Ready(ctx); err != nil {
			t.Fatalf("start on an older database: %v", err)
		}
	}
	start()
	var opens, clicks, implied int64
	if err := conn.QueryRow(ctx, "SELECT sum(opens), sum(clicks), sum(implied_opens) FROM "+db+".email_counters WHERE campaign = 'old'").Scan(&opens, &clicks, &implied); err != nil {
		t.Fatal(err)
	}
	if opens != 3 || clicks != 0 || implied != 0 {
		t.Fatalf("an older row reads opens %d clicks %d implied %d, want 3 0 0", opens, clicks, implied)
	}
	// Forget that migration 2 ran: its ALTER finds the columns there.
	if err := conn.Exec(ctx, "ALTER TABLE "+db+".schema_migrations DELETE WHERE version = 2"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".schema_migrations WHERE version = 2").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the DELETE mutation did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	start()
}

func stripComments(sql string) string {
	var out []string
	for _, l := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
