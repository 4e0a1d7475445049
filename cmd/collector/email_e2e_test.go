package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tally/counter"
	"tally/pixel"
)

// clickCounters sums every email counter per "campaign|dimension|value" of
// site example.com.
func (r *running) clickCounters(t *testing.T) map[string]counter.EmailCounts {
	t.Helper()
	rows, err := r.conn.Query(context.Background(), "SELECT campaign, dimension, value, sum(sent), sum(opens), sum(unique_opens), sum(machine_opens), "+
		"sum(clicks), sum(unique_clicks), sum(machine_clicks), sum(implied_opens) FROM "+r.db+".email_counters WHERE site = 'example.com' GROUP BY campaign, dimension, value")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]counter.EmailCounts{}
	for rows.Next() {
		var campaign, dim, val string
		var c counter.EmailCounts
		if err := rows.Scan(&campaign, &dim, &val, &c.Sent, &c.Opens, &c.UniqueOpens, &c.MachineOpens,
			&c.Clicks, &c.UniqueClicks, &c.MachineClicks, &c.ImpliedOpens); err != nil {
			t.Fatal(err)
		}
		out[campaign+"|"+dim+"|"+val] = c
	}
	return out
}

// landing is the destination site of the test's links: it records what
// reached it.
type landing struct {
	mu       sync.Mutex
	requests []*http.Request
}

func (l *landing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.requests = append(l.requests, r.Clone(context.Background()))
	l.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, ".png") {
		// The sender's images: a green banner, as a real newsletter shows.
		img := image.NewRGBA(image.Rect(0, 0, 600, 200))
		draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{0x0a, 0x7d, 0x32, 0xff}}, image.Point{}, draw.Src)
		w.Header().Set("Content-Type", "image/png")
		png.Encode(w, img)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><title>Spring sale</title><h1 id="landed">Welcome to the spring sale</h1>`)
}

func (l *landing) find(path string) *http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.requests {
		if r.URL.Path == path {
			return r
		}
	}
	return nil
}

// newsletter builds a real multipart/alternative message: a plain-text
// part and an HTML part (quoted-printable, as mailers send it) laid out in
// tables, with two images from the sender's site, the open pixel, three
// tracked links and the honeypot.
func newsletter(t *testing.T, images, pixelURL string, links map[string]string, honeypot string) []byte {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	text, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}})
	fmt.Fprintf(text, "Spring sale\n\nShop now: %s\nOur new product: %s\nUnsubscribe: %s\n", links["cta"], links["product"], links["unsubscribe"])
	html := fmt.Sprintf(`<!doctype html>
<html><head><meta charset="utf-8"><title>Spring sale</title></head>
<body style="margin:0;padding:0;background:#f4f4f4">
<table role="presentation" width="100%%" cellpadding="0" cellspacing="0" border="0">
  <tr><td align="center">
    <table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" style="background:#ffffff">
      <tr><td style="padding:24px"><img id="logo" src="%s/logo.png" width="120" height="40" alt="Example Shop"></td></tr>
      <tr><td><a id="hero-link" href="%s"><img id="hero" src="%s/hero.png" width="600" height="200" alt="Spring sale"></a></td></tr>
      <tr><td style="padding:24px;font-family:Arial,sans-serif">
        <h1>Spring sale: 20%% off</h1>
        <p>Our spring collection is here.</p>
        <table role="presentation" cellpadding="0" cellspacing="0"><tr>
          <td style="background:#0a7d32;border-radius:4px;padding:12px 24px"><a id="cta" href="%s" style="color:#ffffff;text-decoration:none">Shop now</a></td>
          <td style="padding-left:16px"><a id="product" href="%s">See the new product</a></td>
        </tr></table>
        %s
      </td></tr>
      <tr><td style="padding:24px;font-size:12px;color:#666">You receive this because you subscribed.
        <a id="unsubscribe" href="%s">Unsubscribe</a></td></tr>
    </table>
    <img id="open-pixel" src="%s" width="1" height="1" alt="" style="display:block;border:0">
  </td></tr>
</table>
</body></html>`, images, links["cta"], images, links["cta"], links["product"], honeypot, links["unsubscribe"], pixelURL)
	hp, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/html; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
	qp := quotedprintable.NewWriter(hp)
	io.WriteString(qp, html)
	qp.Close()
	mw.Close()
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: Example Shop <news@example.com>\r\nTo: reader@example.net\r\nSubject: Spring sale\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=%q\r\n\r\n",
		time.Now().Format(time.RFC1123Z), mw.Boundary())
	msg.Write(body.Bytes())
	return msg.Bytes()
}

// htmlPart reads a message as a mail client does and returns its decoded
// HTML part.
func htmlPart(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", mt, err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("no HTML part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium: CI must install it")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// TestNewsletterInChromium renders a real HTML newsletter from a file in
// headless Chromium with a desktop agent: the pixel loads and counts one
// open; clicking a link counts one click and lands on the destination with
// its query intact and no Referer; the honeypot is never shown to the
// person and never followed.
func TestNewsletterInChromium(t *testing.T) {
	browser := chromium(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	r := startCollectorWith(t, harness{env: map[string]string{"CLICK_BURST_WINDOW": "300ms"}})
	dest := &landing{}
	shop := httptest.NewServer(dest)
	defer shop.Close()
	shopURL := strings.Replace(shop.URL, "127.0.0.1", "localhost", 1)

	const recipient = "rcpt-e2e-7f3a"
	targets := map[string]string{
		"cta":         shopURL + "/spring?utm_source=newsletter&utm_campaign=spring&id=42&q=a+b%2Fc",
		"product":     shopURL + "/product/7?ref=mail",
		"unsubscribe": shopURL + "/unsubscribe?list=news&r=" + recipient,
	}
	links := map[string]string{}
	for label, d := range targets {
		u, err := pixel.ClickURL(r.base, []byte(secret), pixel.Link{Site: "example.com", Campaign: "spring-sale", Label: label,
			Destination: d, Recipient: recipient, Links: len(targets)})
		if err != nil {
			t.Fatal(err)
		}
		links[label] = u
	}
	hp, err := pixel.ClickURL(r.base, []byte(secret), pixel.Link{Site: "example.com", Campaign: "spring-sale", Label: "hp",
		Destination: "https://example.com/", Recipient: recipient, Links: len(targets), Honeypot: true})
	if err != nil {
		t.Fatal(err)
	}
	open := pixel.EmailURL(r.base, []byte(secret), pixel.Claims{Site: "example.com", Campaign: "spring-sale", Recipient: recipient})
	msg := newsletter(t, shopURL, open, links, pixel.HoneypotHTML(hp))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "spring.eml"), msg, 0o644)
	page := filepath.Join(dir, "spring.html")
	if err := os.WriteFile(page, []byte(htmlPart(t, msg)), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserAgent(uaChromeWin), chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1024, 1400))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(bctx,
		chromedp.Navigate("file://"+page),
		chromedp.WaitReady(`#cta`),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.images.length === 3 && Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`)); err != nil {
		t.Fatalf("the images did not load: %v", err)
	}
	// What a person can see and reach: three links (the hero image is the
	// call to action again), and not the honeypot.
	type anchor struct {
		ID      string  `json:"id"`
		Display string  `json:"display"`
		W       float64 `json:"w"`
		H       float64 `json:"h"`
		Text    string  `json:"text"`
		Focus   int     `json:"focus"`
		Hidden  string  `json:"hidden"`
	}
	anchors, err := chromedp.Run(bctx, chromedp.Evaluate[[]anchor](`Array.from(document.querySelectorAll('a')).map(a => {
		const r = a.getBoundingClientRect();
		return {id: a.id, display: getComputedStyle(a).display, w: r.width, h: r.height, text: a.innerText, focus: a.tabIndex, hidden: a.getAttribute('aria-hidden') || ''};
	})`))
	if err != nil {
		t.Fatal(err)
	}
	honeypots := 0
	for _, a := range anchors {
		if a.ID != "" {
			if a.W == 0 || a.H == 0 {
				t.Errorf("link %s is not visible: %+v", a.ID, a)
			}
			continue
		}
		honeypots++
		if a.Display != "none" || a.W != 0 || a.H != 0 || a.Text != "" || a.Focus != -1 || a.Hidden != "true" {
			t.Errorf("the honeypot can be seen or reached: %+v", a)
		}
	}
	if honeypots != 1 || len(anchors) != 5 {
		t.Fatalf("anchors %+v", anchors)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err == nil {
		os.WriteFile(filepath.Join(dir, "newsletter.png"), shot, 0o644)
		if out := os.Getenv("E2E_NEWSLETTER_SCREENSHOT"); out != "" {
			os.WriteFile(out, shot, 0o644)
		}
	}

	// The person clicks "Shop now".
	if err := chromedp.Do(bctx, chromedp.Click(`#cta`), chromedp.WaitVisible(`#landed`)); err != nil {
		t.Fatal(err)
	}
	at, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if at != targets["cta"] {
		t.Errorf("landed on %s, want %s", at, targets["cta"])
	}
	got := dest.find("/spring")
	if got == nil {
		t.Fatal("the destination was never reached")
	}
	if got.URL.RawQuery != "utm_source=newsletter&utm_campaign=spring&id=42&q=a+b%2Fc" || got.Header.Get("Referer") != "" {
		t.Errorf("the destination got query %q and Referer %q", got.URL.RawQuery, got.Header.Get("Referer"))
	}
	time.Sleep(500 * time.Millisecond) // the burst window
	r.stop()

	rows := r.clickCounters(t)
	if total := rows["spring-sale|total|"]; total != (counter.EmailCounts{Opens: 1, UniqueOpens: 1, Clicks: 1, UniqueClicks: 1}) {
		t.Errorf("total %+v, want one open and one click by a person, nothing else", total)
	}
	if l := rows["spring-sale|link|cta localhost/spring"]; l != (counter.EmailCounts{Clicks: 1, UniqueClicks: 1}) {
		t.Errorf("link row %+v (rows %v)", l, rows)
	}
	if c := rows["spring-sale|client|Chrome"]; c.Clicks != 1 {
		t.Errorf("client row of the click: %+v", c)
	}
	for k, v := range rows {
		if strings.Contains(k, "|machine|") || strings.Contains(k, "|link|hp ") || v.MachineClicks != 0 || v.MachineOpens != 0 {
			t.Errorf("machine activity counted: %s %+v", k, v)
		}
	}
	logs := r.logs.String()
	for _, needle := range []string{recipient, "utm_campaign", "id=42"} {
		if strings.Contains(logs, needle) {
			t.Errorf("logs hold %q", needle)
		}
	}
}
