package clickhouse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tally/aggregator"
	"tally/aggregator/spool"
	"tally/counter"
	"tally/internal/chmigrate"
)

// chdb finds node and the chdb package (npm, which embeds current
// ClickHouse): TALLY_CHDB_DIR, else ~/.cache/tally-chdb, holds its
// node_modules (scripts/lib.sh ensure_chdb installs it there). Without
// them the test is skipped, except in CI, where it fails.
func chdb(t *testing.T) (node, modules string) {
	t.Helper()
	dir := os.Getenv("TALLY_CHDB_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "tally-chdb")
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "chdb", "package.json"))
	}
	if err != nil {
		msg := fmt.Sprintf("node and the npm package chdb are needed in %s (scripts/lib.sh ensure_chdb installs them): %v", dir, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, filepath.Join(dir, "node_modules")
}

// runChDB runs statements in one chDB session and returns each one's
// output; any error fails the test.
func runChDB(t *testing.T, statements []string) []string {
	t.Helper()
	node, modules := chdb(t)
	in, _ := json.Marshal(statements)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/chdb.js")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chdb: %v\n%s", err, stderr.String())
	}
	var results []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for i := 0; sc.Scan(); i++ {
		var r struct{ Out, Err string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("chdb output %q: %v", sc.Text(), err)
		}
		if r.Err != "" {
			t.Fatalf("chdb: statement %d (%.200s): %s", i, statements[i], r.Err)
		}
		results = append(results, strings.TrimSpace(r.Out))
	}
	if len(results) != len(statements) {
		t.Fatalf("chdb answered %d of %d statements\n%s", len(results), len(statements), stderr.String())
	}
	return results
}

// sqlSink turns each write into the INSERT the sink sends (same table,
// columns and insert_deduplication_token), to be run on chDB. loseAck
// makes the next write "stored" (its statement kept) and yet failed, as a
// connection lost after the server stored an insert.
type sqlSink struct {
	mu         sync.Mutex
	statements []string
	loseAck    bool
	down       bool
}

var errLostAck = errors.New("connection reset after the insert was sent")

func (s *sqlSink) Deduplicates(context.Context) (bool, error) { return true, nil }

func (s *sqlSink) Write(_ context.Context, b *aggregator.Batch, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errors.New("connection refused")
	}
	settings := ""
	if token != "" {
		settings = " SETTINGS insert_deduplication_token = " + quote(token)
	}
	var rows []string
	for k, c := range b.Web {
		rows = append(rows, fmt.Sprintf("(%s, %s, %s, %s, %d, %d, %d)", quote(k.Site), hourLiteral(k.Hour), quote(k.Dimension), quote(k.Value), c.Hits, c.Pageviews, c.Visitors))
	}
	if len(rows) > 0 {
		s.statements = append(s.statements, "INSERT INTO web_counters (site, hour, dimension, value, hits, pageviews, visitors)"+settings+" VALUES "+strings.Join(rows, ", "))
	}
	rows = rows[:0]
	for k, c := range b.Email {
		rows = append(rows, fmt.Sprintf("(%s, %s, %s, %s, %s, %d, %d, %d, %d, %d, %d, %d, %d)", quote(k.Site), quote(k.Campaign), hourLiteral(k.Hour), quote(k.Dimension), quote(k.Value),
			c.Sent, c.Opens, c.UniqueOpens, c.MachineOpens, c.Clicks, c.UniqueClicks, c.MachineClicks, c.ImpliedOpens))
	}
	if len(rows) > 0 {
		s.statements = append(s.statements, "INSERT INTO email_counters (site, campaign, hour, dimension, value, sent, opens, unique_opens, machine_opens, clicks, unique_clicks, machine_clicks, implied_opens)"+settings+" VALUES "+strings.Join(rows, ", "))
	}
	if s.loseAck {
		s.loseAck = false
		return errLostAck
	}
	return nil
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func hourLiteral(h int64) string { return quote(time.Unix(h, 0).UTC().Format(time.DateTime)) }

// TestTokensOnCurrentClickHouse: on current ClickHouse, with the tables as
// the migrations and Ready make them (non_replicated_deduplication_window
// set), every write the aggregator makes is stored exactly once: equal
// rows in separate flushes (a quiet site) are all counted, and a write
// resent after its answer was lost, from memory or from the spool after a
// restart, is counted once. The control shows why: the same equal inserts
// without a token are taken for one.
func TestTokensOnCurrentClickHouse(t *testing.T) {
	chdb(t) // skip early
	ctx := context.Background()
	all, err := chmigrate.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range all {
		stmts = append(stmts, m.Statements...)
	}
	stmts = append(stmts, dedupStatements()...)

	sink := &sqlSink{}
	pageview := func(a *aggregator.Aggregator) {
		a.AddWeb("example.com", 3600, []aggregator.WebUpdate{{Dimension: counter.DimTotal, Counts: counter.WebCounts{Hits: 1, Pageviews: 1}}})
		a.AddEmail("example.com", "c", 3600, []aggregator.EmailUpdate{{Dimension: counter.DimTotal, Counts: counter.EmailCounts{Opens: 1, Clicks: 1}}})
	}
	acked := 0

	// From memory: three flushes of equal rows, then one whose answer is
	// lost and which is retried.
	mem, _ := aggregator.New(aggregator.Options{Sink: sink})
	for i := 0; i < 3; i++ {
		pageview(mem)
		acked++
		if err := mem.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pageview(mem)
	acked++
	sink.loseAck = true
	if err := mem.Flush(ctx); err == nil {
		t.Fatal("the lost answer was not reported")
	}
	if err := mem.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// From the spool: a segment whose answer is lost, then the collector
	// restarts and resends it.
	dir := t.TempDir()
	sp, err := spool.Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	disk, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	for i := 0; i < 2; i++ {
		pageview(disk)
		acked++
		if err := disk.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pageview(disk)
	acked++
	sink.loseAck = true
	disk.Flush(ctx)
	sink.down = true
	disk.Stop(ctx) // the segment stays in the spool
	sp.Close()
	sink.down = false
	sp, err = spool.Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	again, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	if err := again.Flush(ctx); err != nil || sp.Len() != 0 {
		t.Fatalf("replay after restart: %v, %d segments left", err, sp.Len())
	}

	n := len(sink.statements)
	stmts = append(stmts, sink.statements...)
	stmts = append(stmts,
		"SELECT sum(pageviews) AS n FROM web_counters",
		"SELECT sum(opens) + sum(clicks) * 1000000 AS n FROM email_counters",
		// The control: the same table, inserts without tokens.
		"CREATE TABLE control AS web_counters",
		"INSERT INTO control (site, hour, dimension, value, pageviews) VALUES ('example.com', '1970-01-01 01:00:00', 'total', '', 1)",
		"INSERT INTO control (site, hour, dimension, value, pageviews) VALUES ('example.com', '1970-01-01 01:00:00', 'total', '', 1)",
		"INSERT INTO control (site, hour, dimension, value, pageviews) VALUES ('example.com', '1970-01-01 01:00:00', 'total', '', 1)",
		"SELECT sum(pageviews) AS n FROM control",
		"SELECT version() AS n",
	)
	out := runChDB(t, stmts)
	num := func(s string) string {
		var r struct{ N json.RawMessage }
		json.Unmarshal([]byte(s), &r)
		return strings.Trim(string(r.N), `"`)
	}
	pv, opens, control, version := num(out[len(out)-8]), num(out[len(out)-7]), num(out[len(out)-2]), num(out[len(out)-1])
	t.Logf("ClickHouse %s (chDB): %d inserts sent, %d hits acknowledged; stored %s page views, %s opens; control (3 equal inserts without a token) stored %s",
		version, n, acked, pv, opens, control)
	if pv != fmt.Sprint(acked) || opens != fmt.Sprint(acked*1000000+acked) {
		t.Fatalf("stored %s page views and %s (clicks x 10^6 + opens), want %d each: every write once, no more, no less", pv, opens, acked)
	}
	if control != "1" {
		t.Fatalf("the control stored %s: this ClickHouse no longer deduplicates token-less inserts, update the test's reasoning", control)
	}
}

// TestRetentionOnCurrentClickHouse runs DropBefore's statements on current
// ClickHouse: the partition listing reads as months, the DROP PARTITION
// statements are accepted and drop exactly the old months.
func TestRetentionOnCurrentClickHouse(t *testing.T) {
	chdb(t) // skip early
	all, err := chmigrate.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range all {
		stmts = append(stmts, m.Statements...)
	}
	for _, h := range []string{"2025-11-30 23:00:00", "2025-12-01 00:00:00", "2026-01-10 12:00:00"} {
		stmts = append(stmts,
			"INSERT INTO web_counters (site, hour, dimension, value, hits) VALUES ('example.com', '"+h+"', 'total', '', 1)",
			"INSERT INTO email_counters (site, campaign, hour, dimension, value, opens) VALUES ('example.com', 'c', '"+h+"', 'total', '', 1)")
	}
	cutoff := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	// The months to drop, as DropBefore would pick them from the listing
	// below (checked against it after the run).
	drop, err := expired([][2]string{{"web_counters", "202511"}, {"email_counters", "202511"},
		{"web_counters", "202512"}, {"email_counters", "202512"}, {"web_counters", "202601"}}, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	listing := len(stmts)
	stmts = append(stmts, partitionsQuery("default"))
	for _, p := range drop {
		stmts = append(stmts, p.dropStatement("default"))
	}
	stmts = append(stmts,
		"SELECT groupArray(toString(hour)) AS n FROM (SELECT hour FROM web_counters ORDER BY hour)",
		"SELECT groupArray(toString(hour)) AS n FROM (SELECT hour FROM email_counters ORDER BY hour)",
		"SELECT version() AS n")
	out := runChDB(t, stmts)

	var parts [][2]string
	for _, line := range strings.Split(out[listing], "\n") {
		var r struct{ Table, Partition string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("listing %q: %v", line, err)
		}
		parts = append(parts, [2]string{r.Table, r.Partition})
	}
	fromListing, err := expired(parts, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fromListing) != fmt.Sprint(drop) || len(drop) != 4 {
		t.Fatalf("the listing %v picks %v, the test dropped %v", parts, fromListing, drop)
	}
	t.Logf("ClickHouse %s (chDB): dropped %v", out[len(out)-1], drop)
	for _, kept := range out[len(out)-3 : len(out)-1] {
		if !strings.Contains(kept, `["2026-01-10 12:00:00"]`) {
			t.Errorf("after the drop a table keeps %s, want only 2026-01-10 12:00:00", kept)
		}
	}
}
