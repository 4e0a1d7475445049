package pixel

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/internal/testpipe"
	"tally/sites"
)

var fuzzSecret = []byte("fuzz-secret-0123456789abcdef-0123456789")

// FuzzVerify: a signature verifies only as Sign's own output for exactly
// the signed claims, and Verify never panics.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), "example.com", "spring", "r-42", true, "")
	f.Add([]byte("k"), "a\nb", "c", "d\n1", false, "AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, secret []byte, site, campaign, recipient string, consent bool, sig string) {
		c := Claims{Site: site, Campaign: campaign, Recipient: recipient, Consent: consent}
		good := Sign(secret, c)
		if Verify(secret, c, sig) && sig != good {
			t.Fatalf("%q verifies for %+v but is not its signature %q", sig, c, good)
		}
		ambiguous := strings.Contains(site, "\n") || strings.Contains(campaign, "\n")
		if ok := Verify(secret, c, good); ok != (len(secret) > 0 && !ambiguous) {
			t.Fatalf("Verify(Sign(%+v)) = %v with secret %q", c, ok, secret)
		}
		// Any change of one character breaks the signature.
		for i := range good {
			b := []byte(good)
			b[i] ^= 1
			if Verify(secret, c, string(b)) {
				t.Fatalf("a signature with character %d changed verifies", i)
			}
		}
		// So does any change of a claim.
		for _, other := range []Claims{
			{Site: site + "x", Campaign: campaign, Recipient: recipient, Consent: consent},
			{Site: site, Campaign: campaign + "x", Recipient: recipient, Consent: consent},
			{Site: site, Campaign: campaign, Recipient: recipient + "x", Consent: consent},
			{Site: site, Campaign: campaign, Recipient: recipient, Consent: !consent},
		} {
			if Verify(secret, other, good) {
				t.Fatalf("the signature of %+v verifies %+v", c, other)
			}
		}
	})
}

// emailApp serves the email pixel with the real pipeline; counted receives
// each hit's outcome.
func emailApp(tb testing.TB) (fasthttp.RequestHandler, *[]ingest.Outcome) {
	tb.Helper()
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com","email_secret":"` + string(fuzzSecret) + `"}]}`))
	if err != nil {
		tb.Fatal(err)
	}
	p := testpipe.New(tb, testpipe.Options{Pipeline: func(o *ingest.Options) { o.MaxPendingRows = -1 }})
	var outcomes []ingest.Outcome
	h := &Handlers{Sites: reg, Pipeline: p.Pipeline, Proxies: clientip.NewResolver(nil),
		Record: func(_ string, o ingest.Outcome, err error) {
			if err == nil {
				outcomes = append(outcomes, o)
			}
		}}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/e/:site/:file", h.Email)
	return app.Handler(), &outcomes
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"

// get serves uri and checks that the answer is the pixel.
func get(t *testing.T, h fasthttp.RequestHandler, uri string) {
	t.Helper()
	var req fasthttp.Request
	req.SetRequestURI(uri)
	req.Header.Set("User-Agent", firefox)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}, nil)
	h(&ctx)
	if ctx.Response.StatusCode() != fiber.StatusOK || !bytes.Equal(ctx.Response.Body(), gif[:]) ||
		string(ctx.Response.Header.ContentType()) != "image/gif" ||
		!strings.Contains(string(ctx.Response.Header.Peek("Cache-Control")), "no-store") {
		t.Fatalf("%q: status %d, type %q: not the pixel", uri, ctx.Response.StatusCode(), ctx.Response.Header.ContentType())
	}
}

// FuzzEmailPixel drives the email pixel handler: every answer is the GIF;
// a URL that EmailURL signed counts, whatever its recipient token; and an
// arbitrary URL counts only if it carries that signature (nobody forges
// one by mutating URLs).
func FuzzEmailPixel(f *testing.F) {
	f.Add("spring", "r-42", true, "spring.gif?r=r-42&s=AAAA")
	f.Add("a.b_c-d", "x&y=z%20 +\n€", false, "a.b_c-d.gif?r=x%26y%3Dz&c=1")
	f.Add("c", "", false, "c.png")
	h, outcomes := emailApp(f)
	f.Fuzz(func(t *testing.T, campaign, recipient string, consent bool, raw string) {
		if !ingest.ValidCampaign(campaign) {
			campaign = "c"
		}
		c := Claims{Site: "example.com", Campaign: campaign, Recipient: recipient, Consent: consent}
		*outcomes = (*outcomes)[:0]
		get(t, h, EmailURL("", fuzzSecret, c))
		if len(*outcomes) != 1 || (*outcomes)[0] != ingest.Counted {
			t.Fatalf("a URL signed by EmailURL for %+v was not counted: %v", c, *outcomes)
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
		*outcomes = (*outcomes)[:0]
		get(t, h, uri)
		if len(*outcomes) == 1 && ((*outcomes)[0] == ingest.Counted || (*outcomes)[0] == ingest.Filtered) {
			var u fasthttp.URI
			if err := u.Parse(nil, []byte(uri)); err != nil {
				t.Fatalf("%q counted but does not parse: %v", uri, err)
			}
			if s := string(u.QueryArgs().Peek("s")); s != Sign(fuzzSecret, c) {
				t.Fatalf("%q counted with signature %q, which nobody issued", uri, s)
			}
		}
	})
}
