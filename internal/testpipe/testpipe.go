// Package testpipe builds the collector's real pipeline for tests: the
// real user-agent classifier, the embedded data-centre ranges and
// referrer-spam list, uniques and aggregator, geo from a fixture
// database (or none), flushing to internal/memsink unless the test brings
// its own sink. It is the one place tests wire ingest.New, so that a new
// step is added to every test at once.
package testpipe

import (
	"path/filepath"
	"testing"
	"time"

	"tally/aggregator"
	"tally/collector/geo"
	"tally/collector/geo/geotest"
	"tally/collector/ingest"
	"tally/collector/netclass"
	"tally/collector/spam"
	"tally/collector/uniques"
	"tally/collector/useragent"
	"tally/internal/memsink"
)

// Options adjust the pipeline; the zero value is the defaults of every
// step, no geo data, and a fresh memsink.Sink.
type Options struct {
	// Sink receives the aggregator's flushes; a new memsink.Sink when nil.
	Sink aggregator.Sink
	// Regions, if set, are written to a fixture GeoIP database (see
	// geotest.WriteDB); without them every region is unknown.
	Regions map[string]geo.Region
	// Now is the clock of the pipeline and the uniques; time.Now when nil.
	Now func() time.Time
	// EmailWindow is how long opens are remembered (uniques.NewOpens).
	EmailWindow time.Duration
	// Aggregator and Pipeline, if set, adjust the aggregator's and the
	// pipeline's options just before each is built.
	Aggregator func(*aggregator.Options)
	Pipeline   func(*ingest.Options)
}

// Pipe is a built pipeline and the parts a test looks at.
type Pipe struct {
	Pipeline   *ingest.Pipeline
	Aggregator *aggregator.Aggregator
	Sink       *memsink.Sink // nil when Options.Sink was given
	Visitors   *uniques.Visitors
	Opens      *uniques.Opens
}

// New builds the pipeline; tb's cleanup closes the geo database. The
// aggregator is not running: a test flushes it when it wants the rows.
func New(tb testing.TB, opts Options) *Pipe {
	tb.Helper()
	p := &Pipe{}
	sink := opts.Sink
	if sink == nil {
		p.Sink = &memsink.Sink{}
		sink = p.Sink
	}
	dbPath := ""
	if opts.Regions != nil {
		dbPath = filepath.Join(tb.TempDir(), "geo.mmdb")
		geotest.WriteDB(tb, dbPath, opts.Regions)
	}
	loc, err := geo.Open(dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { loc.Close() })
	agents, err := useragent.New(useragent.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ao := aggregator.Options{Sink: sink}
	if opts.Aggregator != nil {
		opts.Aggregator(&ao)
	}
	if p.Aggregator, err = aggregator.New(ao); err != nil {
		tb.Fatal(err)
	}
	// The embedded lists, as the collector runs by default.
	dc, err := netclass.New(netclass.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	sp, err := spam.New(spam.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	p.Visitors = uniques.NewVisitors(opts.Now)
	p.Opens = uniques.NewOpens(opts.EmailWindow, opts.Now)
	po := ingest.Options{Geo: loc, Agents: agents, Visitors: p.Visitors, Opens: p.Opens,
		Aggregator: p.Aggregator, Now: opts.Now, DataCentres: dc, Spam: sp}
	if opts.Pipeline != nil {
		opts.Pipeline(&po)
	}
	if p.Pipeline, err = ingest.New(po); err != nil {
		tb.Fatal(err)
	}
	return p
}
