package collector

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"tally/collector/ingest"
	"tally/pixel"
)

// serveFast serves uri straight into h (no network) from a fixed client
// and returns the answer's status and body.
func serveFast(h fasthttp.RequestHandler, uri string) (*fasthttp.RequestCtx, []byte) {
	var req fasthttp.Request
	req.SetRequestURI(uri)
	req.Header.Set("User-Agent", chrome)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}, nil)
	h(ctx)
	return ctx, ctx.Response.Body()
}

// getPixel serves uri and checks that the answer is the pixel.
func getPixel(t *testing.T, h fasthttp.RequestHandler, uri string) {
	t.Helper()
	ctx, body := serveFast(h, uri)
	if ctx.Response.StatusCode() != fiber.StatusOK || !bytes.Equal(body, pixel.GIF()) ||
		string(ctx.Response.Header.ContentType()) != "image/gif" ||
		!strings.Contains(string(ctx.Response.Header.Peek("Cache-Control")), "no-store") {
		t.Fatalf("%q: status %d, type %q: not the pixel", uri, ctx.Response.StatusCode(), ctx.Response.Header.ContentType())
	}
}

// FuzzEmailPixel drives the email pixel through the whole app: every
// answer is the GIF; a URL that EmailURL signed counts, whatever its
// recipient token; and an arbitrary URL counts only if it carries that
// signature (nobody forges one by mutating URLs). A hit counted shows as
// counter rows in the aggregator, which is emptied before each hit.
func FuzzEmailPixel(f *testing.F) {
	f.Add("spring", "r-42", true, "spring.gif?r=r-42&s=AAAA")
	f.Add("a.b_c-d", "x&y=z%20 +\n€", false, "a.b_c-d.gif?r=x%26y%3Dz&c=1")
	f.Add("c", "", false, "c.png")
	app, agg := newTestAppWith(f, func(o *ingest.Options) { o.MaxPendingRows = -1 }, func(o *Options) { o.RateLimit = -1 })
	h := app.Handler()
	counts := func(t *testing.T, uri string) bool {
		t.Helper()
		if err := agg.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		getPixel(t, h, uri)
		return agg.Pending() > 0
	}
	f.Fuzz(func(t *testing.T, campaign, recipient string, consent bool, raw string) {
		if !ingest.ValidCampaign(campaign) {
			campaign = "c"
		}
		c := pixel.Claims{Site: "example.com", Campaign: campaign, Recipient: recipient, Consent: consent}
		if !counts(t, pixel.EmailURL("", []byte(testSecret), c)) {
			t.Fatalf("a URL signed by EmailURL for %+v was not counted", c)
		}
		if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' }) {
			return // a request target is printable ASCII, without a fragment
		}
		// raw is the file name and query of a pixel URL; a slash in the
		// file name would leave the route.
		file, query, _ := strings.Cut(raw, "?")
		file = strings.ReplaceAll(file, "/", "")
		if file == "" || strings.HasPrefix(file, ".") {
			return // "/e/example.com/" and dot segments are other routes
		}
		uri := "/e/example.com/" + file
		if query != "" {
			uri += "?" + query
		}
		if counts(t, uri) {
			var u fasthttp.URI
			if err := u.Parse(nil, []byte(uri)); err != nil {
				t.Fatalf("%q counted but does not parse: %v", uri, err)
			}
			if s := string(u.QueryArgs().Peek("s")); s != pixel.Sign([]byte(testSecret), c) {
				t.Fatalf("%q counted with signature %q, which nobody issued", uri, s)
			}
		}
	})
}
