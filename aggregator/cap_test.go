package aggregator

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"tally/counter"
)

// rowSink keeps every row written, web and email.
type rowSink struct {
	mu    sync.Mutex
	web   map[counter.WebKey]counter.WebCounts
	email map[counter.EmailKey]counter.EmailCounts
}

func (s *rowSink) Write(_ context.Context, b *Batch, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.web == nil {
		s.web, s.email = map[counter.WebKey]counter.WebCounts{}, map[counter.EmailKey]counter.EmailCounts{}
	}
	for k, c := range b.Web {
		cur := s.web[k]
		cur.Add(c)
		s.web[k] = cur
	}
	for k, c := range b.Email {
		cur := s.email[k]
		cur.Add(c)
		s.email[k] = cur
	}
	return nil
}

// TestValuesPastTheHourlyQuotaCountAsOther: each (site, dimension, hour)
// counts at most MaxValuesPerHour distinct values; the rest are counted
// under "(other)", so no hit is lost; totals, other sites, other
// dimensions and the next hour have quotas of their own.
func TestValuesPastTheHourlyQuotaCountAsOther(t *testing.T) {
	sink := &rowSink{}
	a, err := New(Options{Sink: sink, MaxValuesPerHour: 3})
	if err != nil {
		t.Fatal(err)
	}
	const h = 7200
	hit := func(site string, hour int64, dim, value string) {
		a.AddWeb(site, hour, []WebUpdate{
			{Dimension: counter.DimTotal, Counts: counter.WebCounts{Hits: 1}},
			{Dimension: dim, Value: value, Counts: counter.WebCounts{Hits: 1, Visitors: 1}},
		})
	}
	for i := range 10 {
		hit("a.example", h, counter.DimPath, fmt.Sprintf("/p%d", i))
	}
	hit("a.example", h, counter.DimPath, "/p0") // admitted: still its own row
	// The rows leave memory (a sync without a journal holds them apart):
	// the quota still knows which values it admitted.
	a.sync()
	hit("a.example", h, counter.DimPath, "/p1")
	hit("a.example", h, counter.DimPath, "/p9")
	hit("a.example", h, counter.DimUTMSource, "x")
	hit("b.example", h, counter.DimPath, "/p9")
	hit("a.example", h+3600, counter.DimPath, "/p9") // the next hour
	hit("a.example", h, counter.DimPath, "/late")    // an hour ago: its quota is spent
	if got := a.Stats().OverflowValues; got != 9 {
		t.Errorf("OverflowValues = %d, want 9", got)
	}
	hit("a.example", h+7200, counter.DimPath, "/p0")
	// Two hours on, hour h is forgotten: a late value cannot open a new
	// quota for it, it goes to (other).
	hit("a.example", h, counter.DimPath, "/older")
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	want := map[counter.WebKey]int64{
		{Site: "a.example", Hour: h, Dimension: counter.DimTotal}:                         16,
		{Site: "a.example", Hour: h, Dimension: counter.DimPath, Value: "/p0"}:            2,
		{Site: "a.example", Hour: h, Dimension: counter.DimPath, Value: "/p1"}:            2,
		{Site: "a.example", Hour: h, Dimension: counter.DimPath, Value: "/p2"}:            1,
		{Site: "a.example", Hour: h, Dimension: counter.DimPath, Value: counter.Overflow}: 10,
		{Site: "a.example", Hour: h, Dimension: counter.DimUTMSource, Value: "x"}:         1,
		{Site: "b.example", Hour: h, Dimension: counter.DimTotal}:                         1,
		{Site: "b.example", Hour: h, Dimension: counter.DimPath, Value: "/p9"}:            1,
		{Site: "a.example", Hour: h + 3600, Dimension: counter.DimTotal}:                  1,
		{Site: "a.example", Hour: h + 3600, Dimension: counter.DimPath, Value: "/p9"}:     1,
		{Site: "a.example", Hour: h + 7200, Dimension: counter.DimTotal}:                  1,
		{Site: "a.example", Hour: h + 7200, Dimension: counter.DimPath, Value: "/p0"}:     1,
	}
	for k, n := range want {
		if got := sink.web[k]; got.Hits != n {
			t.Errorf("%+v: %d hits, want %d", k, got.Hits, n)
		}
	}
	for k, c := range sink.web {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected row %+v: %+v", k, c)
		}
	}
	// Nothing silently dropped: the path rows of hour h sum to its total.
	var paths int64
	for k, c := range sink.web {
		if k.Site == "a.example" && k.Hour == h && k.Dimension == counter.DimPath {
			paths += c.Hits
		}
	}
	if paths != 15 {
		t.Errorf("path rows of hour h count %d hits, want the 15 sent", paths)
	}
	if v := sink.web[counter.WebKey{Site: "a.example", Hour: h, Dimension: counter.DimPath, Value: counter.Overflow}].Visitors; v != 10 {
		t.Errorf("(other) carries %d visitors, want the 10 of the folded values", v)
	}
}

// TestClosedSetDimensionsAreNotCapped: regions, browsers and the other
// classifier outputs, and every email dimension, take values no client can
// make up; a busy site may see more of them than the cap, all genuine.
func TestClosedSetDimensionsAreNotCapped(t *testing.T) {
	sink := &rowSink{}
	a, err := New(Options{Sink: sink, MaxValuesPerHour: 2})
	if err != nil {
		t.Fatal(err)
	}
	regions := []string{"DE-BY", "DE-BE", "FR-IDF", "GB-ENG", "US-CA"}
	for _, r := range regions {
		a.AddWeb("a.example", 3600, []WebUpdate{{Dimension: counter.DimRegion, Value: r, Counts: counter.WebCounts{Hits: 1}}})
		a.AddEmail("a.example", "spring", 3600, []EmailUpdate{{Dimension: counter.DimRegion, Value: r, Counts: counter.EmailCounts{Opens: 1}}})
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.web) != len(regions) || len(sink.email) != len(regions) || a.Stats().OverflowValues != 0 {
		t.Fatalf("%d web and %d email rows, %d overflow: want %d each and none", len(sink.web), len(sink.email), a.Stats().OverflowValues, len(regions))
	}
}

func TestNoValueCapWhenNegative(t *testing.T) {
	sink := &rowSink{}
	a, err := New(Options{Sink: sink, MaxValuesPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := New(Options{Sink: sink}); b.opts.MaxValuesPerHour != DefaultMaxValuesPerHour {
		t.Fatalf("default cap %d, want %d", b.opts.MaxValuesPerHour, DefaultMaxValuesPerHour)
	}
	for i := range 2000 {
		a.AddWeb("a.example", 3600, []WebUpdate{{Dimension: counter.DimPath, Value: fmt.Sprint("/", i), Counts: counter.WebCounts{Hits: 1}}})
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.web) != 2000 || a.Stats().OverflowValues != 0 {
		t.Fatalf("%d rows, %d overflow: a negative cap must mean none", len(sink.web), a.Stats().OverflowValues)
	}
}

// BenchmarkAddWebAfterSync measures what the cap costs where it is asked:
// rows new to memory, as after every journal sync (every 500ms in the
// collector). One hit is 12 updates of 300 paths and 12 values of other
// dimensions; memory is emptied every 64 hits, so most updates are new
// rows of values already admitted.
func BenchmarkAddWebAfterSync(b *testing.B) {
	paths := make([]string, 300)
	for i := range paths {
		paths[i] = fmt.Sprint("/docs/page-", i)
	}
	values := []string{"google", "DE", "DE-BY", "desktop", "Firefox", "Linux", "newsletter", "email", "spring", "granted", "bing"}
	dims := []string{counter.DimSource, counter.DimCountry, counter.DimRegion, counter.DimDevice, counter.DimBrowser,
		counter.DimOS, counter.DimUTMSource, counter.DimUTMMedium, counter.DimUTMCampaign, counter.DimConsent}
	for _, bc := range []struct {
		name string
		max  int
	}{{"cap", DefaultMaxValuesPerHour}, {"nocap", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := New(Options{Sink: &rowSink{}, FlushRows: 1 << 30, MaxValuesPerHour: bc.max})
			if err != nil {
				b.Fatal(err)
			}
			updates := make([]WebUpdate, 12)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%64 == 0 {
					a.mu.Lock()
					a.current = newBatchSize(len(a.current.Web), 0)
					a.mu.Unlock()
				}
				updates[0] = WebUpdate{Dimension: counter.DimTotal, Counts: counter.WebCounts{Hits: 1}}
				updates[1] = WebUpdate{Dimension: counter.DimPath, Value: paths[(i*7919)%len(paths)], Counts: counter.WebCounts{Hits: 1}}
				for j, d := range dims {
					updates[2+j] = WebUpdate{Dimension: d, Value: values[(i+j)%len(values)], Counts: counter.WebCounts{Hits: 1}}
				}
				a.AddWeb("shop.example", 3600, updates)
			}
		})
	}
}
