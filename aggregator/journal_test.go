package aggregator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"tally/aggregator"
	"tally/aggregator/spool"
	"tally/counter"
	"tally/internal/memsink"
)

var (
	totalKey = counter.WebKey{Site: "example.com", Hour: 3600, Dimension: counter.DimTotal}
	openKey  = counter.EmailKey{Site: "example.com", Campaign: "c", Hour: 3600, Dimension: counter.DimTotal}
)

// hit counts one page view and one email open, as the pipeline does.
func hit(a *aggregator.Aggregator) {
	a.AddWeb("example.com", 3600, []aggregator.WebUpdate{
		{Dimension: counter.DimConsent, Value: "granted", Counts: counter.WebCounts{Hits: 1}},
		{Dimension: counter.DimTotal, Counts: counter.WebCounts{Hits: 1, Pageviews: 1}},
	})
	a.AddEmail("example.com", "c", 3600, []aggregator.EmailUpdate{{Dimension: counter.DimTotal, Counts: counter.EmailCounts{Opens: 1}}})
}

func stored(s *memsink.Sink) (pv, opens int64) {
	return s.Web(totalKey).Pageviews, s.Email(openKey).Opens
}

// openSpool opens a spool in dir, closed when the test ends.
func openSpool(t *testing.T, dir string, max int64) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(dir, max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

var errDown = errors.New("connection refused")

func down(*aggregator.Batch, string) error { return errDown }

func TestJournalSurvivesOutageAndRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	sink := &memsink.Sink{}
	sink.FailWith(down)
	sp := openSpool(t, dir, 1<<20)
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
	sp.Close()

	// Restart: a new aggregator on the same spool replays it.
	sink.FailWith(nil)
	sp2 := openSpool(t, dir, 1<<20)
	b, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp2})
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pv, opens := stored(sink); pv != 6 || opens != 6 || sp2.Len() != 0 {
		t.Fatalf("after replay: %d page views, %d opens, %d segments left; want 6, 6, 0", pv, opens, sp2.Len())
	}
}

// During an outage the backlog waits on disk as open segments and is sent
// as few inserts as its size allows when ClickHouse is back, not one per
// flush interval: a burst of small inserts would pile up parts in
// ClickHouse.
func TestOutageBacklogIsOneInsert(t *testing.T) {
	ctx := context.Background()
	sink := &memsink.Sink{}
	sink.FailWith(down)
	sp := openSpool(t, t.TempDir(), 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	for i := 0; i < 5; i++ {
		hit(a)
		a.Flush(ctx)
	}
	if len(sp.Sealed()) != 1 || len(sp.Unsealed()) != 4 {
		t.Fatalf("during the outage: sealed %v, open %v; want the first flush's segment sealed, 4 open", sp.Sealed(), sp.Unsealed())
	}
	sink.FailWith(nil)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]bool{}
	for _, tok := range sink.Tokens() {
		tokens[tok] = true
	}
	if pv, opens := stored(sink); pv != 5 || opens != 5 || sp.Len() != 0 || len(tokens) != 4 {
		t.Fatalf("after recovery: %d page views, %d opens, %d segments, tokens %v; want 5, 5, 0 and two segments of two tables",
			pv, opens, sp.Len(), tokens)
	}
}

// A backlog larger than FlushRows is replayed in chunks: no write carries
// much more than FlushRows rows, and memory stays near that bound.
func TestBacklogReplayedInChunks(t *testing.T) {
	ctx := context.Background()
	const flushRows, segments, rowsPerSegment = 10, 40, 3
	maxWrite := 0
	var mu sync.Mutex
	sink := &memsink.Sink{}
	sink.FailWith(down)
	sp := openSpool(t, t.TempDir(), 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp, FlushRows: flushRows})
	for i := 0; i < segments; i++ {
		var u []aggregator.WebUpdate
		for r := 0; r < rowsPerSegment; r++ {
			u = append(u, aggregator.WebUpdate{Dimension: counter.DimPath, Value: fmt.Sprint("/", i, "/", r), Counts: counter.WebCounts{Hits: 1, Pageviews: 1}})
		}
		a.AddWeb("example.com", 3600, u)
		a.Flush(ctx) // syncs one segment; the sink is down
	}
	maxPending := 0
	sink.FailWith(func(b *aggregator.Batch, _ string) error {
		mu.Lock()
		defer mu.Unlock()
		maxWrite = max(maxWrite, b.Len())
		maxPending = max(maxPending, a.Pending())
		return nil
	})
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range sink.WebRows() {
		n += c.Pageviews
	}
	if n != segments*rowsPerSegment || sp.Len() != 0 {
		t.Fatalf("stored %d page views, %d segments left; want %d, 0", n, sp.Len(), segments*rowsPerSegment)
	}
	if maxWrite > flushRows+rowsPerSegment || maxPending > flushRows+rowsPerSegment {
		t.Fatalf("largest write %d rows, most rows in memory %d: want at most %d", maxWrite, maxPending, flushRows+rowsPerSegment)
	}
	if w := sink.Writes(); w < segments*rowsPerSegment/(flushRows+rowsPerSegment) {
		t.Fatalf("only %d writes: the backlog was not chunked", w)
	}
}

// A kill -9 after a sync and before a flush leaves open segments only;
// the next start replays them, and replays nothing twice.
func TestCrashBeforeFlushReplaysOpenSegments(t *testing.T) {
	dir, crashed := t.TempDir(), filepath.Join(t.TempDir(), "spool")
	ctx := context.Background()
	sink := &memsink.Sink{}
	synctest.Test(t, func(t *testing.T) {
		sp := openSpool(t, dir, 1<<20)
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
		if sink.Writes() != 0 {
			t.Fatal("rows were written before the crash; the test needs them in the spool")
		}
		// A kill -9 here leaves the spool as it is now: copy it, then end
		// a (the bubble must not outlive its goroutines).
		copyDir(t, dir, crashed)
		a.Stop(ctx)
	})
	sink = &memsink.Sink{}
	sp2 := openSpool(t, crashed, 1<<20)
	b, err := aggregator.New(aggregator.Options{Sink: sink, Journal: sp2})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pv, opens := stored(sink); pv != 3 || opens != 3 || sp2.Len() != 0 {
		t.Fatalf("after restart: %d page views, %d opens, %d segments; want 3, 3, 0", pv, opens, sp2.Len())
	}
}

// copyDir copies a spool as a crash would leave it (without its lock).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// Sync never waits for the sink: while a flush hangs on it, the rows
// added keep reaching the journal every sync interval.
func TestSyncDoesNotWaitForFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memsink.Sink{}
		release := make(chan struct{})
		sink.HangUntil(release)
		sp := openSpool(t, t.TempDir(), 1<<20)
		a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp, SyncInterval: 500 * time.Millisecond,
			FlushInterval: time.Second, InsertTimeout: time.Minute})
		go a.Run()
		hit(a)
		time.Sleep(1100 * time.Millisecond) // a flush started and hangs
		synctest.Wait()
		for i := 0; i < 5; i++ {
			hit(a)
			time.Sleep(600 * time.Millisecond)
			synctest.Wait()
			// The hanging write's 3 rows are in memory; the new ones
			// must be on disk.
			if a.Pending() != 3 || len(sp.Unsealed()) != i+1 {
				t.Fatalf("round %d: %d rows in memory, open segments %v while a flush hangs; sync must not wait for it",
					i, a.Pending(), sp.Unsealed())
			}
		}
		close(release)
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if pv, opens := stored(sink); pv != 6 || opens != 6 {
			t.Fatalf("stored %d page views, %d opens; want 6, 6", pv, opens)
		}
	})
}

// Stop returns by its context's deadline even when the sink hangs, after
// syncing the journal: nothing acknowledged is lost.
func TestStopBoundedWhenSinkHangs(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		sink := &memsink.Sink{}
		release := make(chan struct{})
		sink.HangUntil(release)
		sp := openSpool(t, dir, 1<<20)
		a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp, FlushInterval: time.Second, InsertTimeout: time.Minute})
		go a.Run()
		hit(a)
		time.Sleep(1100 * time.Millisecond)
		hit(a)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := a.Stop(ctx)
		if took := time.Since(start); took > 5*time.Second+time.Millisecond {
			t.Fatalf("Stop took %v with a 5s deadline", took)
		}
		if err != nil && strings.Contains(err.Error(), "only in memory") {
			t.Fatalf("rows left in memory: the last sync must come before the flush: %v", err)
		}
		// The hung write is still running; let it end (as the process
		// exiting would) before the bubble closes, so no goroutine is
		// left blocked in it.
		sink.FailWith(func(*aggregator.Batch, string) error { return errors.New("process exited") })
		close(release)
		synctest.Wait()
		sp.Close()
	})
	sink := &memsink.Sink{}
	sp := openSpool(t, dir, 1<<20)
	b, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pv, _ := stored(sink); pv != 2 {
		t.Fatalf("after restart %d page views stored, want 2", pv)
	}
}

// A crash between a stored insert and the journal update never sends the
// segment again: with deduplication it is resent under its token (and
// dropped by the server); without, the write recorded as started is
// dropped as ambiguous rather than resent.
func TestCrashAfterInsertNeverResends(t *testing.T) {
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprint("dedup=", dedup), func(t *testing.T) {
			dir, crashed := t.TempDir(), filepath.Join(t.TempDir(), "spool")
			ctx := context.Background()
			sink := &memsink.Sink{}
			sink.Dedup(dedup)
			sp := openSpool(t, dir, 1<<20)
			a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
			for i := 0; i < 3; i++ {
				hit(a)
			}
			// The web insert is stored; the process dies before it learns
			// (it writes nothing more).
			once := sync.Once{}
			sink.AfterWrite(func() {
				once.Do(func() { copyDir(t, dir, crashed); sink.FailWith(down) })
			})
			a.Flush(ctx)
			sink.AfterWrite(nil)
			sink.FailWith(nil)
			if pv, _ := stored(sink); pv != 3 {
				t.Fatalf("the first run stored %d page views, want 3", pv)
			}

			sink2 := sink // the same server
			sp2 := openSpool(t, crashed, 1<<20)
			b, _ := aggregator.New(aggregator.Options{Sink: sink2, Journal: sp2})
			if err := b.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			pv, opens := stored(sink2)
			if pv != 3 || opens != 3 {
				t.Fatalf("after the restart: %d page views, %d opens; want 3, 3", pv, opens)
			}
			if sp2.Len() != 0 {
				t.Fatalf("%d segments left", sp2.Len())
			}
			if got := b.Stats().AmbiguousHits; dedup && got != 0 || !dedup && got != 3 {
				t.Fatalf("ambiguous hits %d; want 0 with deduplication, 3 without", got)
			}
		})
	}
}

// failingJournal is a spool whose writes fail while broken is set, as a
// read-only or full disk makes them (root ignores file modes, so a real
// read-only directory needs a mount: the collector's fault tests do that).
type failingJournal struct {
	*spool.Spool
	mu     sync.Mutex
	broken bool
}

var errReadOnly = errors.New("read-only file system")

func (j *failingJournal) set(b bool) { j.mu.Lock(); j.broken = b; j.mu.Unlock() }
func (j *failingJournal) err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.broken {
		return errReadOnly
	}
	return nil
}
func (j *failingJournal) Append(b *aggregator.Batch) (uint64, error) {
	if err := j.err(); err != nil {
		return 0, err
	}
	return j.Spool.Append(b)
}
func (j *failingJournal) Seal(s []uint64, b *aggregator.Batch) (uint64, error) {
	if err := j.err(); err != nil {
		return 0, err
	}
	return j.Spool.Seal(s, b)
}
func (j *failingJournal) SetProgress(seq uint64, p aggregator.Progress) error {
	if err := j.err(); err != nil {
		return err
	}
	return j.Spool.SetProgress(seq, p)
}
func (j *failingJournal) Remove(seq uint64) error {
	if err := j.err(); err != nil {
		return err
	}
	return j.Spool.Remove(seq)
}

// A spool that cannot be written degrades to writing from memory: new rows
// reach a healthy sink, the fault is reported, and a stored segment is
// never sent twice, even when it cannot be marked stored.
func TestUnwritableSpoolDegradesNeverResends(t *testing.T) {
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprint("dedup=", dedup), func(t *testing.T) {
			ctx := context.Background()
			sink := &memsink.Sink{}
			sink.Dedup(dedup)
			j := &failingJournal{Spool: openSpool(t, t.TempDir(), 1<<20)}
			a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: j})
			hit(a)
			sink.FailWith(down)
			a.Flush(ctx) // a sealed segment is pending
			sink.FailWith(nil)
			j.set(true) // the disk turns read-only
			for i := 0; i < 4; i++ {
				hit(a)
				a.Flush(ctx)
			}
			if a.Degraded() == nil {
				t.Fatal("an unwritable spool must be reported")
			}
			pv, _ := stored(sink)
			switch {
			case dedup && pv != 5:
				t.Fatalf("with deduplication everything can be sent: %d page views stored, want 5", pv)
			case !dedup && pv != 4:
				t.Fatalf("without, the segment waits (its write cannot be recorded) and memory is written: %d page views stored, want 4", pv)
			}
			counts := map[string]int{}
			for _, tok := range sink.Tokens() {
				counts[tok]++
			}
			for tok, n := range counts {
				if n > 2 { // once failed, once stored
					t.Errorf("token %s sent %d times", tok, n)
				}
			}
			j.set(false)
			hit(a)
			if err := a.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if pv, opens := stored(sink); pv != 6 || opens != 6 || j.Len() != 0 || a.Degraded() != nil {
				t.Fatalf("after the disk is back: %d page views, %d opens, %d segments, degraded %v; want 6, 6, 0, nil",
					pv, opens, j.Len(), a.Degraded())
			}
		})
	}
}

func TestRetriesReuseTokensAndSkipStoredTables(t *testing.T) {
	ctx := context.Background()
	sink := &memsink.Sink{}
	sp := openSpool(t, t.TempDir(), 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	hit(a)
	emailDown := func(b *aggregator.Batch, _ string) error {
		if len(b.Email) > 0 {
			return errors.New("server exception")
		}
		return nil
	}
	sink.FailWith(emailDown)
	a.Flush(ctx) // web stored, email failed
	hit(a)       // new rows while the old segment waits
	a.Flush(ctx)
	sink.FailWith(nil)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pv, opens := stored(sink); pv != 2 || opens != 2 {
		t.Fatalf("stored %d page views and %d opens, want 2 and 2", pv, opens)
	}
	// The first segment's web rows were sent once; its email rows were
	// retried under one token.
	count := map[string]int{}
	for _, tok := range sink.Tokens() {
		count[tok]++
	}
	webTokens, emailRetries := 0, 0
	for tok, n := range count {
		if n > 1 && strings.HasSuffix(tok, "/web") {
			t.Errorf("web rows of %s sent %d times after they were stored", tok, n)
		}
		if strings.HasSuffix(tok, "/web") {
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
	sink := &memsink.Sink{}
	sp := openSpool(t, t.TempDir(), 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	hit(a)
	hit(a)
	sink.FailWith(func(b *aggregator.Batch, _ string) error {
		if len(b.Web) > 0 {
			return fmt.Errorf("connection reset: %w", aggregator.ErrAmbiguous)
		}
		return nil
	})
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("an ambiguous write is dropped, not failed: %v", err)
	}
	sink.FailWith(nil)
	a.Flush(ctx)
	if pv, opens := stored(sink); pv != 0 || opens != 2 || a.Stats().AmbiguousHits != 2 || sp.Len() != 0 {
		t.Fatalf("pv %d opens %d ambiguous hits %d segments %d: want 0, 2, 2, 0", pv, opens, a.Stats().AmbiguousHits, sp.Len())
	}
}

func TestFullJournalKeepsRowsInMemory(t *testing.T) {
	ctx := context.Background()
	sink := &memsink.Sink{}
	sink.FailWith(down)
	sp := openSpool(t, t.TempDir(), 400)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	for i := 0; i < 50; i++ {
		a.AddWeb("example.com", int64(i)*3600, []aggregator.WebUpdate{{Dimension: counter.DimPath, Value: fmt.Sprint("/", i), Counts: counter.WebCounts{Pageviews: 1}}})
		a.Flush(ctx)
	}
	if a.Stats().JournalFull == 0 || a.Pending() == 0 {
		t.Fatalf("a full spool must be counted and its rows kept: full=%d pending=%d", a.Stats().JournalFull, a.Pending())
	}
	if sp.Size() > 400 {
		t.Fatalf("the spool grew to %d bytes, past its bound of 400", sp.Size())
	}
	sink.FailWith(nil)
	for i := 0; i < 5 && (a.Pending() > 0 || sp.Len() > 0); i++ {
		a.Flush(ctx)
	}
	var n int64
	for _, c := range sink.WebRows() {
		n += c.Pageviews
	}
	if n != 50 {
		t.Fatalf("after recovery %d page views stored, want 50", n)
	}
}

// A segment damaged on disk is moved aside and counted; the rest flows.
func TestCorruptSegmentIsMovedAside(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sink := &memsink.Sink{}
	sp := openSpool(t, dir, 1<<20)
	a, _ := aggregator.New(aggregator.Options{Sink: sink, Journal: sp})
	hit(a)
	a.Flush(ctx) // stored
	sink.FailWith(down)
	hit(a)
	a.Flush(ctx) // sealed, pending
	sealed := sp.Sealed()
	if len(sealed) != 1 {
		t.Fatalf("sealed %v, want one", sealed)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.sealed"))
	if len(matches) != 1 {
		t.Fatalf("files %v", matches)
	}
	if err := os.WriteFile(matches[0], []byte("TSP1 damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink.FailWith(nil)
	hit(a)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pv, _ := stored(sink); pv != 2 || a.Stats().Corrupt != 1 || sp.Len() != 0 {
		t.Fatalf("page views %d, corrupt %d, segments %d: want 2 (the damaged one's lost), 1, 0", pv, a.Stats().Corrupt, sp.Len())
	}
	if _, err := os.Stat(matches[0] + ".corrupt"); err != nil {
		t.Fatalf("the damaged segment was not kept aside: %v", err)
	}
}

// Health fails once writes keep failing, and recovers with the first
// write that succeeds.
func TestHealthFollowsWrites(t *testing.T) {
	ctx := context.Background()
	sink := &memsink.Sink{}
	a, _ := aggregator.New(aggregator.Options{Sink: sink})
	sink.FailWith(down)
	for i := 0; i < 2; i++ {
		if a.Health() != nil {
			t.Fatalf("unhealthy after %d failed writes", i)
		}
		hit(a)
		a.Flush(ctx)
	}
	if err := a.Health(); err == nil || !strings.Contains(err.Error(), errDown.Error()) {
		t.Fatalf("after two failed writes Health is %v, want the cause", err)
	}
	sink.FailWith(nil)
	a.Flush(ctx)
	if err := a.Health(); err != nil {
		t.Fatal(err)
	}
}
