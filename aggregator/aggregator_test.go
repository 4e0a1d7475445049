package aggregator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"tally/counter"
)

// memSink stores batches in memory and fails while down is set. It stands
// in for ClickHouse only in these unit tests of the flushing logic; the
// ClickHouse sink has its own tests against a real server.
type memSink struct {
	mu     sync.Mutex
	down   bool
	writes int
	web    map[counter.WebKey]counter.WebCounts
}

func (s *memSink) Write(_ context.Context, b *Batch, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.down {
		return errors.New("sink down")
	}
	if s.web == nil {
		s.web = map[counter.WebKey]counter.WebCounts{}
	}
	for k, c := range b.Web {
		cur := s.web[k]
		cur.Add(c)
		s.web[k] = cur
	}
	return nil
}

func (s *memSink) get(k counter.WebKey) counter.WebCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.web[k]
}

func (s *memSink) setDown(d bool) { s.mu.Lock(); s.down = d; s.mu.Unlock() }

var key = counter.WebKey{Site: "example.com", Hour: 3600, Dimension: counter.DimPath, Value: "/"}

func add(a *Aggregator, n int64) {
	a.AddWeb(key.Site, key.Hour, []WebUpdate{{Dimension: key.Dimension, Value: key.Value, Counts: counter.WebCounts{Hits: n, Pageviews: n}}})
}

func TestFlushesOnTimerAndKeepsFailedRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{}
		a, err := New(Options{Sink: sink, FlushInterval: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		go a.Run()
		add(a, 2)
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if got := sink.get(key).Pageviews; got != 0 {
			t.Fatalf("flushed before the interval: %d", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := sink.get(key).Pageviews; got != 2 {
			t.Fatalf("after one interval the sink has %d page views, want 2", got)
		}

		// ClickHouse goes down: rows stay pending and are retried.
		sink.setDown(true)
		add(a, 3)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		add(a, 4)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		// The failed write is retried as it was, with its token; the
		// newer rows wait beside it rather than merge into it.
		if got := a.Pending(); got != 2 {
			t.Fatalf("pending rows = %d, want 2 (the failed write and the newer rows)", got)
		}
		sink.setDown(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := sink.get(key).Pageviews; got != 9 {
			t.Fatalf("after recovery the sink has %d page views, want 9", got)
		}
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFlushesWhenLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{}
		a, _ := New(Options{Sink: sink, FlushInterval: time.Hour, FlushRows: 3})
		go a.Run()
		for i := 0; i < 3; i++ {
			a.AddWeb("example.com", 0, []WebUpdate{{Dimension: counter.DimPath, Value: string(rune('a' + i)), Counts: counter.WebCounts{Hits: 1}}})
		}
		synctest.Wait()
		if sink.writes != 1 || a.Pending() != 0 {
			t.Fatalf("writes=%d pending=%d: a full batch must flush without waiting for the timer", sink.writes, a.Pending())
		}
		a.Stop(context.Background())
	})
}

func TestStopFlushes(t *testing.T) {
	sink := &memSink{}
	a, _ := New(Options{Sink: sink, FlushInterval: time.Hour})
	go a.Run()
	add(a, 5)
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.get(key).Pageviews; got != 5 {
		t.Fatalf("Stop flushed %d page views, want 5", got)
	}
	// Stop without Run (a server that failed to start) still flushes.
	b, _ := New(Options{Sink: sink})
	add(b, 1)
	if err := b.Stop(context.Background()); err != nil || sink.get(key).Pageviews != 6 {
		t.Fatalf("Stop without Run: err=%v pageviews=%d", err, sink.get(key).Pageviews)
	}
}

func TestStopReportsUnflushed(t *testing.T) {
	sink := &memSink{down: true}
	a, _ := New(Options{Sink: sink})
	add(a, 1)
	if err := a.Stop(context.Background()); err == nil {
		t.Fatal("Stop with the sink down must report the rows it could not write")
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no sink accepted")
	}
	if _, err := New(Options{Sink: &memSink{}, FlushInterval: -1}); err == nil {
		t.Error("negative interval accepted")
	}
}

func BenchmarkAddWeb(b *testing.B) {
	a, _ := New(Options{Sink: &memSink{}, FlushRows: 1 << 30})
	updates := make([]WebUpdate, 12)
	for i := range updates {
		updates[i] = WebUpdate{Dimension: counter.DimPath, Value: string(rune('a' + i)), Counts: counter.WebCounts{Hits: 1, Pageviews: 1}}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a.AddWeb("example.com", 3600, updates)
	}
}

func TestPendingCountsEveryRowInMemory(t *testing.T) {
	sink := &memSink{down: true}
	a, _ := New(Options{Sink: sink})
	for i := 0; i < 3; i++ {
		a.AddWeb("example.com", 0, []WebUpdate{{Dimension: counter.DimPath, Value: string(rune('a' + i)), Counts: counter.WebCounts{Hits: 1}}})
	}
	if a.Pending() != 3 {
		t.Fatalf("pending %d, want 3", a.Pending())
	}
	a.Flush(context.Background()) // fails: rows go back to memory
	if a.Pending() != 3 {
		t.Fatalf("after a failed flush pending %d, want 3", a.Pending())
	}
	sink.setDown(false)
	a.Flush(context.Background())
	if a.Pending() != 0 {
		t.Fatalf("after a flush pending %d, want 0", a.Pending())
	}
}
