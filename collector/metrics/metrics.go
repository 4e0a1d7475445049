package metrics

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collector's instruments.
type Metrics struct {
	registry *prometheus.Registry
	hits     *prometheus.CounterVec
	rejected *prometheus.CounterVec
	shed     *prometheus.CounterVec
	flushDur prometheus.Histogram
	flushRow prometheus.Counter
	flushErr prometheus.Counter
}

// Gauges are read at scrape time.
type Gauges struct {
	PendingRows  func() float64 // counter rows waiting for a flush
	VisitorPairs func() float64 // (visitor, value) pairs remembered today
	VisitorBytes func() float64 // memory of those pairs (uniques.Visitors.Bytes)
	OpenKeys     func() float64 // recipient opens remembered
	OpenBytes    func() float64 // memory of those opens (uniques.Opens.Bytes)
	Journeys     func() float64 // visitors with attribution and funnel state today
	JourneyBytes func() float64 // their memory, estimated (journey.Journeys.Bytes)
	JourneysShed func() float64 // new visitors refused that state over their site's share (a counter)
	SpoolBytes   func() float64 // bytes of counter deltas in the on-disk spool
	SpoolSegs    func() float64 // segments in the spool

	// Counters read at scrape time (monotonic counts kept elsewhere).
	SpoolFull      func() float64 // syncs that found the spool full
	SpoolErrors    func() float64 // spool operations that failed
	SpoolCorrupt   func() float64 // damaged spool segments moved aside
	AmbiguousHits  func() float64 // hits dropped after an ambiguous write
	OverflowValues func() float64 // updates counted under "(other)" past the hourly quota of values
	SpoolFault     func() float64 // 1 while the spool cannot be written (a gauge)
}

// New registers the instruments and the gauges.
func New(g Gauges) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_hits_total", Help: "Hits accepted, by kind (event, web_pixel, email_pixel, email_click, sent) and outcome (email clicks: held while the scanner check waits, then counted as a person's or a machine's).",
		}, []string{"kind", "outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_hits_rejected_total", Help: "Hits refused as bad input, by kind and reason.",
		}, []string{"kind", "reason"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_shed_total",
			Help: "Hits not counted to protect the collector, by kind and reason (counter_rows, visitor_pairs, open_keys, click_keys, held_clicks: a memory bound; rate_limited: one client over its limit).",
		}, []string{"kind", "reason"}),
		flushDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tally_flush_duration_seconds", Help: "Time to write one batch to ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		flushRow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tally_flushed_rows_total", Help: "Counter rows written to ClickHouse.",
		}),
		flushErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tally_flush_errors_total", Help: "Flushes that failed and were kept for retry.",
		}),
	}
	reg.MustRegister(m.hits, m.rejected, m.shed, m.flushDur, m.flushRow, m.flushErr,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() float64) {
		if f != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
		}
	}
	gauge("tally_pending_rows", "Counter rows waiting for a flush, failed ones included.", g.PendingRows)
	gauge("tally_visitor_pairs", "(visitor, dimension value) pairs remembered today, in memory only.", g.VisitorPairs)
	gauge("tally_visitor_bytes", "Memory of the day's (visitor, value) pairs, in bytes.", g.VisitorBytes)
	gauge("tally_email_open_keys", "Recipient opens remembered for de-duplication, in memory only.", g.OpenKeys)
	gauge("tally_email_open_bytes", "Memory of the remembered opens, in bytes.", g.OpenBytes)
	gauge("tally_journeys", "Visitors with attribution and funnel state today, in memory only.", g.Journeys)
	gauge("tally_journey_bytes", "Memory of the day's attribution and funnel state, estimated, in bytes.", g.JourneyBytes)
	gauge("tally_spool_bytes", "Bytes of counter deltas waiting in the on-disk spool.", g.SpoolBytes)
	gauge("tally_spool_segments", "Segments waiting in the on-disk spool.", g.SpoolSegs)
	counter := func(name, help string, f func() float64) {
		if f != nil {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
		}
	}
	counter("tally_journeys_shed_total", "New visitors given no attribution or funnel state because their site's share of MAX_JOURNEYS was full; their conversions count as (unknown).", g.JourneysShed)
	counter("tally_spool_full_total", "Syncs that found the spool full; their rows stayed in memory.", g.SpoolFull)
	counter("tally_spool_errors_total", "Spool operations that failed (write, seal, progress record, removal); rows the spool refused are written from memory.", g.SpoolErrors)
	counter("tally_spool_corrupt_total", "Damaged spool segments moved aside (*.corrupt); their counts are lost.", g.SpoolCorrupt)
	counter("tally_overflow_values_total", "Dimension values counted under \"(other)\" because their site had MAX_VALUES_PER_HOUR distinct values of the dimension that hour.", g.OverflowValues)
	counter("tally_flush_ambiguous_hits_total", "Hits dropped after a write whose outcome is unknown on a server without insert deduplication.", g.AmbiguousHits)
	gauge("tally_spool_fault", "1 while the spool cannot be written (read-only, full disk, errors): a crash then loses what is in memory.", g.SpoolFault)
	return m
}

// Hit counts an accepted hit.
func (m *Metrics) Hit(kind, outcome string) { m.hits.WithLabelValues(kind, outcome).Inc() }

// Rejected counts a refused hit; reason must come from a fixed set.
func (m *Metrics) Rejected(kind, reason string) { m.rejected.WithLabelValues(kind, reason).Inc() }

// Shed counts a hit that was not counted to protect the collector; reason
// must come from a fixed set.
func (m *Metrics) Shed(kind, reason string) { m.shed.WithLabelValues(kind, reason).Inc() }

// Flushed records a flush outcome.
func (m *Metrics) Flushed(rows int, took time.Duration, err error) {
	m.flushDur.Observe(took.Seconds())
	if err != nil {
		m.flushErr.Inc()
		return
	}
	m.flushRow.Add(float64(rows))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() fiber.Handler { return adaptor.HTTPHandler(m.HTTPHandler()) }

// HTTPHandler is Handler for net/http, for the metrics' own listener.
func (m *Metrics) HTTPHandler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
