package aggregator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"tally/aggregator"
	"tally/aggregator/spool"
	"tally/counter"
)

// recSink records what it stores and fails as told. It stands in for
// ClickHouse only to drive the failure cases; the real sink is tested
// against a real server.
type recSink struct {
	mu     sync.Mutex
	fail   map[string]error // by table ("web", "email")
	tokens []string
	stored map[string]int64 // token -> page views or opens stored
	pv     int64
	opens  int64
}

func (s *recSink) Write(_ context.Context, b *aggregator.Batch, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	table := "web"
	if len(b.Web) == 0 {
		table = "email"
	}
	s.tokens = append(s.tokens, token)
	if err := s.fail[table]; err != nil {
		return err
	}
	if _, dup := s.stored[token]; dup {
		return nil // the server deduplicates by token
	}
	var n int64
	for _, c := range b.Web {
		n += c.Pageviews
	}
	for _, c := range b.Email {
		n += c.Opens
	}
	s.stored[token] = n
	if table == "web" {
		s.pv += n
	} else {
		s.opens += n
	}
	return nil
}

func (s *recSink) set(table string, err error) { s.mu.Lock(); s.fail[table] = err; s.mu.Unlock() }

func newRecSink() *recSink { return &recSink{fail: map[string]error{}, stored: map[string]int64{}} }

func hit(a *aggregator.Aggregator) {
	a.AddWeb("example.com", 3600, []aggregator.WebUpdate{{Dimension: counter.DimTotal, Counts: counter.WebCounts{Pageviews: 1}}})
	a.AddEmail("example.com", "c", 3600, []aggregator.EmailUpdate{{Dimension: counter.DimTotal, Counts: counter.EmailCounts{Opens: 1}}})
}

func TestJournalSurvivesOutageAndRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	sink := newRecSink()
	sink.set("web", errors.New("connection refused"))
	sp, _ := spool.Open(dir, 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	for i := 0; i < 5; i++ {
		hit(a)
	}
	if err := a.Flush(ctx); err == nil {
		t.Fatal("flush with the sink down succeeded")
	}
	hit(a)
	if err := a.Stop(ctx); err == nil {
		t.Fatal("Stop must say rows were left in the spool")
	}
	if a.Pending() != 0 || sp.Len() == 0 {
		t.Fatalf("rows must be on disk, not in memory: pending %d, segments %d", a.Pending(), sp.Len())
	}

	// Restart: a new aggregator on the same spool replays it.
	sink.set("web", nil)
	sp2, _ := spool.Open(dir, 1<<20)
	b, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp2})
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if sink.pv != 6 || sink.opens != 6 || sp2.Len() != 0 {
		t.Fatalf("after replay: %d page views, %d opens, %d segments left; want 6, 6, 0", sink.pv, sink.opens, sp2.Len())
	}
}

// During an outage the backlog waits on disk as open segments and is sent
// as one insert (per table) when ClickHouse is back, not one per flush
// interval: a burst of small inserts would pile up parts in ClickHouse.
func TestOutageBacklogIsOneInsert(t *testing.T) {
	ctx := context.Background()
	sink := newRecSink()
	sink.set("web", errors.New("connection refused"))
	sp, _ := spool.Open(t.TempDir(), 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	for i := 0; i < 5; i++ {
		hit(a)
		a.Flush(ctx)
	}
	if len(sp.Sealed()) != 1 || len(sp.Unsealed()) != 4 {
		t.Fatalf("during the outage: sealed %v, open %v; want the first flush's segment sealed, 4 open", sp.Sealed(), sp.Unsealed())
	}
	sink.set("web", nil)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]bool{}
	for _, tok := range sink.tokens {
		tokens[tok] = true
	}
	if sink.pv != 5 || sink.opens != 5 || sp.Len() != 0 || len(tokens) != 4 {
		t.Fatalf("after recovery: %d page views, %d opens, %d segments, tokens %v; want 5, 5, 0 and two segments of two tables",
			sink.pv, sink.opens, sp.Len(), tokens)
	}
}

// A kill -9 after a sync and before a flush leaves open segments only;
// the next start replays them, and replays nothing twice.
func TestCrashBeforeFlushReplaysOpenSegments(t *testing.T) {
	dir, crashed := t.TempDir(), filepath.Join(t.TempDir(), "spool")
	ctx := context.Background()
	sink := newRecSink()
	synctest.Test(t, func(t *testing.T) {
		sp, _ := spool.Open(dir, 1<<20)
		a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp, SyncInterval: time.Millisecond, FlushInterval: time.Hour})
		go a.Run()
		synctest.Wait() // past Run's first flush, which replays the spool
		for i := 0; i < 3; i++ {
			hit(a)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if a.Pending() > 0 || len(sp.Unsealed()) == 0 {
			t.Fatalf("rows never reached the spool: pending %d, open segments %v", a.Pending(), sp.Unsealed())
		}
		if sink.pv != 0 {
			t.Fatalf("%d page views were stored before the crash; the test needs them in the spool", sink.pv)
		}
		// A kill -9 here leaves the spool as it is now: copy it, then end
		// a (the bubble must not outlive its goroutines).
		if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		a.Stop(ctx)
	})
	sink = newRecSink()
	sp2, _ := spool.Open(crashed, 1<<20)
	b, err := aggregator.New(aggregator.Options{Sink: sink, Journal: sp2})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if sink.pv != 3 || sink.opens != 3 || sp2.Len() != 0 {
		t.Fatalf("after restart: %d page views, %d opens, %d segments; want 3, 3, 0", sink.pv, sink.opens, sp2.Len())
	}
}

func TestRetriesReuseTokensAndSkipStoredTables(t *testing.T) {
	ctx := context.Background()
	sink := newRecSink()
	sp, _ := spool.Open(t.TempDir(), 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	hit(a)
	sink.set("email", errors.New("server exception"))
	a.Flush(ctx) // web stored, email failed
	hit(a)       // new rows while the old segment waits
	a.Flush(ctx)
	sink.set("email", nil)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if sink.pv != 2 || sink.opens != 2 {
		t.Fatalf("stored %d page views and %d opens, want 2 and 2", sink.pv, sink.opens)
	}
	// The first segment's web rows were sent once; its email rows were
	// retried under one token.
	count := map[string]int{}
	for _, tok := range sink.tokens {
		count[tok]++
	}
	webTokens, emailRetries := 0, 0
	for tok, n := range count {
		if n > 1 && tok[len(tok)-4:] == "/web" {
			t.Errorf("web rows of %s sent %d times after they were stored", tok, n)
		}
		if tok[len(tok)-4:] == "/web" {
			webTokens++
		}
		if n == 3 {
			emailRetries++
		}
	}
	if webTokens != 2 || emailRetries != 1 {
		t.Fatalf("tokens %v: want 2 web tokens and one email token tried 3 times", count)
	}
}

func TestAmbiguousWriteIsNotRetried(t *testing.T) {
	ctx := context.Background()
	sink := newRecSink()
	sp, _ := spool.Open(t.TempDir(), 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	hit(a)
	sink.set("web", fmt.Errorf("connection reset: %w", aggregator.ErrAmbiguous))
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("an ambiguous write is dropped, not failed: %v", err)
	}
	sink.set("web", nil)
	a.Flush(ctx)
	if sink.pv != 0 || sink.opens != 1 || a.Stats().AmbiguousRows != 1 || sp.Len() != 0 {
		t.Fatalf("pv %d opens %d ambiguous %d segments %d: want 0, 1, 1, 0", sink.pv, sink.opens, a.Stats().AmbiguousRows, sp.Len())
	}
}

func TestFullJournalKeepsRowsInMemory(t *testing.T) {
	ctx := context.Background()
	sink := newRecSink()
	sink.set("web", errors.New("down"))
	sp, _ := spool.Open(t.TempDir(), 400)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	for i := 0; i < 50; i++ {
		a.AddWeb("example.com", int64(i)*3600, []aggregator.WebUpdate{{Dimension: counter.DimPath, Value: fmt.Sprint("/", i), Counts: counter.WebCounts{Pageviews: 1}}})
		a.Flush(ctx)
	}
	if a.Stats().JournalFull == 0 || a.Pending() == 0 {
		t.Fatalf("a full spool must be counted and its rows kept: full=%d pending=%d", a.Stats().JournalFull, a.Pending())
	}
	sink.set("web", nil)
	for i := 0; i < 5 && (a.Pending() > 0 || sp.Len() > 0); i++ {
		a.Flush(ctx)
	}
	if sink.pv != 50 {
		t.Fatalf("after recovery %d page views stored, want 50", sink.pv)
	}
}
