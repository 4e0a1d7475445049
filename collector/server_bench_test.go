package collector

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/metrics"
	"tally/goals"
	"tally/internal/testpipe"
	"tally/sites"
)

// benchApp serves requests straight into the app's fasthttp handler (no
// network): the cost of the HTTP layer and the pipeline together.
func benchApp(b *testing.B, rateLimit int, build func(i int, req *fasthttp.Request)) {
	app, _ := newTestAppWith(b, func(o *ingest.Options) { o.MaxPendingRows = -1 },
		func(o *Options) { o.RateLimit = rateLimit })
	benchHandler(b, app.Handler(), build)
}

// benchHandler runs requests made by build through h.
func benchHandler(b *testing.B, h fasthttp.RequestHandler, build func(i int, req *fasthttp.Request)) {
	// 1024 distinct clients, so the limiter's and the pipeline's state is
	// in steady state after the warm-up.
	reqs := make([]fasthttp.Request, 1024)
	for i := range reqs {
		build(i, &reqs[i])
		reqs[i].Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	remote := &net.TCPAddr{IP: net.IPv4zero, Port: 1234}
	var ctx fasthttp.RequestCtx
	run := func(i int) {
		ctx.Init(&reqs[i%len(reqs)], remote, nil)
		h(&ctx)
		if code := ctx.Response.StatusCode(); code >= 300 {
			b.Fatalf("status %d: %s", code, ctx.Response.Body())
		}
	}
	for i := range len(reqs) {
		run(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(i)
	}
}

var benchPaths = []string{"/", "/pricing", "/blog/launch", "/docs/install", "/about"}

// BenchmarkAppPixel is GET /p.gif through the whole app.
func BenchmarkAppPixel(b *testing.B) {
	for _, limit := range []int{-1, 1 << 30} {
		b.Run(map[int]string{-1: "nolimit", 1 << 30: "limiter"}[limit], func(b *testing.B) {
			benchApp(b, limit, func(i int, req *fasthttp.Request) {
				req.SetRequestURI("/p.gif?d=example.com")
				req.Header.Set("User-Agent", chrome)
				req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
				req.Header.Set("Referer", "https://example.com"+benchPaths[i%len(benchPaths)])
			})
		})
	}
}

// BenchmarkAppEvent is POST /api/event through the whole app.
func BenchmarkAppEvent(b *testing.B) {
	for _, limit := range []int{-1, 1 << 30} {
		b.Run(map[int]string{-1: "nolimit", 1 << 30: "limiter"}[limit], func(b *testing.B) {
			benchApp(b, limit, func(i int, req *fasthttp.Request) {
				req.Header.SetMethod("POST")
				req.SetRequestURI("/api/event")
				req.Header.Set("User-Agent", chrome)
				req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
				req.Header.SetContentType("application/json")
				req.SetBodyString(`{"n":"pageview","u":"https://example.com` + benchPaths[i%len(benchPaths)] +
					`","d":"example.com","r":"https://www.google.com/","consent":{"analytics":"granted"}}`)
			})
		})
	}
}

// BenchmarkAppEventProps is POST /api/event of a custom event that
// converts a goal, without props and with five allow-listed props (and
// one that is not), on a site that keeps them.
func BenchmarkAppEventProps(b *testing.B) {
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com",
		"props":["plan","lang","author","theme","ab"],"goals":[{"event":"Signup"}]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	s, _ := reg.Lookup("example.com")
	gr := goals.NewRegistry(map[string]goals.Config{"example.com": s.Conversions}, nil)
	for _, bc := range []struct{ name, props string }{
		{"none", ""},
		{"5props", `,"p":{"plan":"pro","lang":"de","author":"Jane Doe","theme":"dark","ab":"b","other":"x"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := testpipe.New(b, testpipe.Options{Pipeline: func(o *ingest.Options) { o.MaxPendingRows = -1; o.Goals = gr }})
			app, err := New(Options{Sites: reg, Pipeline: p.Pipeline, Metrics: metrics.New(metrics.Gauges{}), RateLimit: -1,
				Proxies: clientip.NewResolver([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")})})
			if err != nil {
				b.Fatal(err)
			}
			benchHandler(b, app.Handler(), func(i int, req *fasthttp.Request) {
				req.Header.SetMethod("POST")
				req.SetRequestURI("/api/event")
				req.Header.Set("User-Agent", chrome)
				req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
				req.Header.SetContentType("application/json")
				req.SetBodyString(`{"n":"Signup","u":"https://example.com` + benchPaths[i%len(benchPaths)] +
					`","d":"example.com","r":"https://www.google.com/","consent":{"analytics":"granted"}` + bc.props + `}`)
			})
		})
	}
}
