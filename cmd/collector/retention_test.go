package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/counter"
	"tally/internal/chtest"
)

// writeRows stores one web and one email total row in each of the hours.
func writeRows(t *testing.T, sink *clickhouse.Sink, hours ...time.Time) {
	t.Helper()
	b := aggregator.NewBatch()
	for _, h := range hours {
		b.Web[counter.WebKey{Site: "example.com", Hour: counter.HourOf(h), Dimension: counter.DimTotal}] = counter.WebCounts{Hits: 1}
		b.Email[counter.EmailKey{Site: "example.com", Campaign: "c", Hour: counter.HourOf(h), Dimension: counter.DimTotal}] = counter.EmailCounts{Opens: 1}
	}
	if err := sink.Write(context.Background(), b, ""); err != nil {
		t.Fatal(err)
	}
}

// TestRetentionDropsOldMonthsAtStart: with RETENTION_DROP, the collector
// drops at start the months of both counter tables that ended more than
// RETENTION ago, and keeps the rest.
func TestRetentionDropsOldMonthsAtStart(t *testing.T) {
	now := time.Now().UTC()
	old := []time.Time{now.AddDate(0, 0, -200), now.AddDate(0, 0, -130)} // months over by 99 days at least
	recent := now.Add(-time.Hour)
	r := startCollectorWith(t, harness{
		env: map[string]string{"RETENTION_DROP": "true", "RETENTION": "2160h"}, // 90 days
		prepare: func(t *testing.T, url string) {
			sink, err := clickhouse.Open(context.Background(), clickhouse.Options{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			writeRows(t, sink, append(old, recent)...)
		},
	})
	want := time.Unix(counter.HourOf(recent), 0).UTC().Format(time.DateTime)
	deadline := time.Now().Add(10 * time.Second)
	for {
		web, email := hoursIn(t, r, "web_counters"), hoursIn(t, r, "email_counters")
		if web == want && email == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s web_counters holds %s and email_counters %s, want only %s; logs:\n%s", web, email, want, r.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(r.logs.String(), "retention: dropped"); n != 4 {
		t.Errorf("%d drops logged, want 4 (two months of two tables):\n%s", n, r.logs)
	}
}

// hoursIn lists a table's distinct hours, oldest first, comma-separated.
func hoursIn(t *testing.T, r *running, table string) string {
	t.Helper()
	var hours []string
	if err := r.conn.QueryRow(context.Background(), "SELECT groupArray(h) FROM (SELECT DISTINCT toString(hour) AS h FROM "+
		r.db+"."+table+" ORDER BY h)").Scan(&hours); err != nil {
		t.Fatal(err)
	}
	return strings.Join(hours, ",")
}

// TestRetentionRunsAgainAndStops: the loop runs again on its period (a
// month written late, by a replayed spool, is dropped on the next run),
// and stop waits for it to end.
func TestRetentionRunsAgainAndStops(t *testing.T) {
	url, conn := chtest.Database(t)
	sink, err := clickhouse.Open(context.Background(), clickhouse.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	now := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	writeRows(t, sink, time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), now)
	stop := startRetention(sink, 30*24*time.Hour, 50*time.Millisecond, 50*time.Millisecond, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	count := func() (n uint64) {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+chtest.DB(conn)+".web_counters").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); count() != 1; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d rows after 5s, want 1", what, count())
			}
		}
	}
	waitFor("first run")
	writeRows(t, sink, time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC)) // April 20 is 30 days back: March is over
	waitFor("next run")
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return")
	}
}
