package collector

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/metrics"
	"tally/counter"
	"tally/internal/testpipe"
	"tally/pixel"
	"tally/sites"
)

// clickApp is the real app and pipeline with a site that has a key id.
type clickApp struct {
	app  *fiber.App
	pipe *testpipe.Pipe
}

const clickSecret = "click-secret-0123456789abcdef-0123456789"

func newClickApp(t *testing.T, srv func(*Options)) *clickApp {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com","email_keys":[{"id":"k1","secret":"` + clickSecret + `"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := testpipe.New(t, testpipe.Options{})
	so := Options{Sites: reg, Pipeline: p.Pipeline, Metrics: metrics.New(metrics.Gauges{}),
		Proxies: clientip.NewResolver([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")})}
	if srv != nil {
		srv(&so)
	}
	app, err := New(so)
	if err != nil {
		t.Fatal(err)
	}
	return &clickApp{app: app, pipe: p}
}

// get requests path (a URL path and query) and returns the answer.
func (a *clickApp) get(t *testing.T, method, path string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, "http://collector.test/", nil)
	// The raw path as given: httptest would parse and re-encode it.
	req.URL = &url.URL{Scheme: "http", Host: "collector.test", Opaque: "//collector.test" + strings.SplitN(path, "?", 2)[0]}
	if _, q, ok := strings.Cut(path, "?"); ok {
		req.URL.RawQuery = q
	}
	req.RequestURI = path
	req.Header.Set("User-Agent", chrome)
	resp, err := a.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// clicks commits what the pipeline holds and returns the campaign's
// total row as stored.
func (a *clickApp) total(t *testing.T, campaign string) counter.EmailCounts {
	t.Helper()
	a.pipe.Pipeline.Close()
	if err := a.pipe.Aggregator.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a.pipe.Sink.Email(counter.EmailKey{Site: "example.com", Campaign: campaign, Hour: counter.HourOf(time.Now()), Dimension: counter.DimTotal})
}

func signedLink(t *testing.T, l pixel.Link) string {
	t.Helper()
	if l.Site == "" {
		l.Site = "example.com"
	}
	if l.KeyID == "" {
		l.KeyID = "k1"
	}
	raw, err := pixel.ClickURL("", []byte(clickSecret), l)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestClickRedirectsToTheSignedDestination(t *testing.T) {
	a := newClickApp(t, nil)
	dest := "https://shop.example.com/spring?utm_source=newsletter&id=42&q=a+b%2Fc#top"
	resp := a.get(t, http.MethodGet, signedLink(t, pixel.Link{Campaign: "spring", Label: "cta", Destination: dest, Recipient: "r-1"}))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dest {
		t.Fatalf("%d to %q, want 302 to %q", resp.StatusCode, resp.Header.Get("Location"), dest)
	}
	for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store, max-age=0"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	// HEAD is answered the same, and counted as a machine's.
	resp = a.get(t, http.MethodHead, signedLink(t, pixel.Link{Campaign: "spring", Label: "cta", Destination: dest, Recipient: "r-2"}))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dest {
		t.Fatalf("HEAD: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := a.total(t, "spring"); got != (counter.EmailCounts{Clicks: 1, UniqueClicks: 1, Opens: 1, UniqueOpens: 1, ImpliedOpens: 1, MachineClicks: 1}) {
		t.Fatalf("counted %+v", got)
	}
}

// TestClickNeverRedirectsToAnAttacker: unsigned, tampered, expired and
// unknown-key links, with every shape of hostile destination, land on the
// site's home page and count nothing; a link of an unknown site gets a
// page and no redirect at all.
func TestClickNeverRedirectsToAnAttacker(t *testing.T) {
	a := newClickApp(t, nil)
	good := signedLink(t, pixel.Link{Campaign: "spring", Label: "cta", Destination: "https://shop.example.com/a?b=c", Recipient: "r-1"})
	sig := url.QueryEscape(mustQuery(t, good).Get("s"))
	evil := []string{
		"//evil.example/", "\\\\evil.example", "/\\evil.example", "javascript:alert(document.domain)", "JaVaScRiPt:alert(1)",
		"java%0ascript:alert(1)", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "DATA:text/html,<script>alert(1)</script>",
		"%2F%2Fevil.example", "%252F%252Fevil.example", "https:evil.example", "HTTPS://evil.example/", "https://evil.example/",
		"https://shop.example.com@evil.example/", "\t//evil.example", " https://evil.example", "https://evil.example%2F@shop.example.com/",
		"%68ttps://evil.example", "//%65vil.example", "///evil.example", "https://evil.example\r\nSet-Cookie: x=1",
	}
	var tries []string
	for _, e := range evil {
		q := url.QueryEscape(e)
		tries = append(tries,
			"/l/example.com/spring/cta?u="+q,                                                                      // unsigned
			"/l/example.com/spring/cta?k=k1&r=r-1&s="+sig+"&u="+q,                                                 // tampered: another destination under a good signature
			"/l/example.com/spring/cta?u="+q+"&k=k1&r=r-1&s="+sig+"&u=https%3A%2F%2Fshop.example.com%2Fa%3Fb%3Dc", // a second u after the first
		)
		if !strings.ContainsAny(e, " \t\r\n") { // fasthttp refuses those before any handler
			tries = append(tries, "/l/example.com/spring/cta?u="+e+"&k=k1&s="+sig) // not even encoded
		}
	}
	expired := pixel.Link{Site: "example.com", Campaign: "spring", Label: "cta", Destination: "https://shop.example.com/", KeyID: "k1", Expires: time.Now().Add(-time.Minute).Unix()}
	unknownKey := expired
	unknownKey.Expires, unknownKey.KeyID = 0, "k9"
	hostile := pixel.Link{Site: "example.com", Campaign: "spring", Label: "cta", Destination: "javascript:alert(1)", KeyID: "k1"}
	k := pixel.NewKey([]byte(clickSecret))
	tries = append(tries,
		strings.Replace(good, "s="+sig, "s=AAAAAAAAAAAAAAAAAAAAAA", 1), // forged signature
		strings.Replace(good, "r=r-1", "r=r-2", 1),                     // another recipient
		strings.Replace(good, "/spring/", "/autumn/", 1),               // another campaign
		strings.Replace(good, "/cta?", "/logo?", 1),                    // another label
		good+"&h=1", good+"&n=3", good+"&c=1", good+"&x=99999999999", // added claims
		signedLink(t, expired), // expired
		"/l/example.com/spring/cta?k=k9&s="+k.SignLink(unknownKey)+"&u=https%3A%2F%2Fshop.example.com%2F", // unknown key
		"/l/example.com/spring/cta?k=k1&s="+k.SignLink(hostile)+"&u=javascript%3Aalert%281%29",            // signed, but not a destination
		"/l/example.com/spring/cta?k=k1&n=-1&s="+sig+"&u=https%3A%2F%2Fshop.example.com%2Fa%3Fb%3Dc",
	)
	for _, path := range tries {
		resp := a.get(t, http.MethodGet, path)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://example.com/" {
			t.Errorf("%s: %d to %q, want 302 to the site's home page", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// A site we do not serve: no redirect at all.
	for _, path := range []string{"/l/evil.example/spring/cta?u=https%3A%2F%2Fevil.example%2F", "/l/%2F%2Fevil.example/spring/cta?u=x"} {
		resp := a.get(t, http.MethodGet, path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" || strings.Contains(string(body), "evil") {
			t.Errorf("%s: %d to %q: %s", path, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	if got := a.total(t, "spring"); got != (counter.EmailCounts{}) {
		t.Fatalf("invalid links counted %+v", got)
	}
	// The good link itself still works (the tries did not count because
	// they were invalid, not because nothing counts).
	resp := a.get(t, http.MethodGet, good)
	if resp.Header.Get("Location") != "https://shop.example.com/a?b=c" {
		t.Fatalf("the good link: %q", resp.Header.Get("Location"))
	}
	if got := a.total(t, "spring"); got.Clicks != 1 {
		t.Fatalf("the good link counted %+v", got)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// TestClickOverTheRateLimitStillLands: a person over the limit is not
// counted but still reaches the destination.
func TestClickOverTheRateLimitStillLands(t *testing.T) {
	a := newClickApp(t, func(o *Options) { o.RateLimit = 1 })
	dest := "https://shop.example.com/a?b=c"
	for i := range 3 {
		resp := a.get(t, http.MethodGet, signedLink(t, pixel.Link{Campaign: "spring", Label: "cta", Destination: dest, Recipient: "r-1"}))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dest || resp.Header.Get("Retry-After") != "" {
			t.Fatalf("click %d: %d to %q", i, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if got := a.total(t, "spring"); got.Clicks != 1 {
		t.Fatalf("counted %+v, want the first click only", got)
	}
}

// TestClickShedStillLands: over a memory bound the click is not counted
// and still lands.
func TestClickShedStillLands(t *testing.T) {
	reg, _ := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com","email_keys":[{"id":"k1","secret":"` + clickSecret + `"}]}]}`))
	p := testpipe.New(t, testpipe.Options{Pipeline: func(o *ingest.Options) { o.MaxPendingRows = 1 }})
	app, err := New(Options{Sites: reg, Pipeline: p.Pipeline, Metrics: metrics.New(metrics.Gauges{}), Proxies: clientip.NewResolver(nil)})
	if err != nil {
		t.Fatal(err)
	}
	a := &clickApp{app: app, pipe: p}
	dest := "https://shop.example.com/x"
	for i := range 3 {
		resp := a.get(t, http.MethodGet, signedLink(t, pixel.Link{Campaign: "spring", Label: "cta", Destination: dest}))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dest {
			t.Fatalf("click %d: %d to %q", i, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
