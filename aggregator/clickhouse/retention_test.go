package clickhouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/counter"
	"tally/internal/chtest"
)

// TestDropBeforeDropsWholeOldMonths writes rows of four months to both
// counter tables of a real server, drops before a cutoff in the middle of
// the third, and finds the two months entirely before it gone and the
// rest, the cutoff's own month included, kept.
func TestDropBeforeDropsWholeOldMonths(t *testing.T) {
	url, conn := chtest.Database(t)
	ctx := context.Background()
	s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	months := []time.Time{
		time.Date(2025, 11, 30, 23, 0, 0, 0, time.UTC), // the last hour of a dropped month
		time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, m := range months {
		b := aggregator.NewBatch()
		b.Web[counter.WebKey{Site: "example.com", Hour: counter.HourOf(m), Dimension: counter.DimTotal}] = counter.WebCounts{Hits: 1}
		b.Email[counter.EmailKey{Site: "example.com", Campaign: "c", Hour: counter.HourOf(m), Dimension: counter.DimTotal}] = counter.EmailCounts{Opens: 1}
		if err := s.Write(ctx, b, ""); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	dropped, err := s.DropBefore(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(dropped), "[email_counters/202511 web_counters/202511 email_counters/202512 web_counters/202512]"; got != want {
		t.Errorf("dropped %s, want %s", got, want)
	}
	db := chtest.DB(conn)
	for _, table := range []string{"web_counters", "email_counters"} {
		rows, err := conn.Query(ctx, "SELECT toString(hour) FROM "+db+"."+table+" ORDER BY hour")
		if err != nil {
			t.Fatal(err)
		}
		var hours []string
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				t.Fatal(err)
			}
			hours = append(hours, h)
		}
		rows.Close()
		if got, want := fmt.Sprint(hours), "[2026-01-10 12:00:00 2026-02-01 00:00:00]"; got != want {
			t.Errorf("%s keeps %s, want %s", table, got, want)
		}
	}
	// Nothing more to drop: a second run is a no-op.
	if dropped, err := s.DropBefore(ctx, cutoff); err != nil || len(dropped) != 0 {
		t.Fatalf("second run dropped %v, %v", dropped, err)
	}
}
