package useragent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestShape(t *testing.T) {
	c := newTestClassifier(t, Options{})
	f := func(ua string, h Headers, want string) {
		t.Helper()
		if got := Shape(c.Classify(ua), h); got != want {
			t.Errorf("Shape(%q, %+v) = %q, want %q", ua, h, got, want)
		}
	}
	f(uaChromeWindows, Headers{AcceptLanguage: true}, BotNone)
	f(uaChromeWindows, Headers{}, BotRequestShape) // a script wearing Chrome's agent
	f(uaSafariIPhone, Headers{}, BotRequestShape)
	f(uaGooglebot, Headers{}, BotNone)             // already filtered by its agent: that reason stands
	f("Acme/3.2 (Linux; x64)", Headers{}, BotNone) // not a browser: the agent layer decides
	f("", Headers{}, BotNone)
}

// TestChromiumSendsAcceptLanguage is the measurement behind Shape: a real
// Chromium loads a page that fetches a pixel, posts with fetch() and sends
// a beacon, and every request it makes carries Accept-Language; Go's own
// client, the shape of a script, carries none.
func TestChromiumSendsAcceptLanguage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium on PATH: skipping the measurement")
	}
	var mu sync.Mutex
	seen := map[string]string{} // path -> Accept-Language
	done := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path] = r.Header.Get("Accept-Language")
		mu.Unlock()
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`<img src="/p.gif"><script>
fetch("/api/event", {method: "POST", body: "{}"});
navigator.sendBeacon("/beacon", "{}");
</script>`))
		default:
			done <- struct{}{}
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	for range 3 {
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("chromium did not make every request; seen %v", seen)
		}
	}
	resp, err := http.Get(srv.URL + "/go.gif")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	mu.Lock()
	defer mu.Unlock()
	for _, req := range []string{"GET /", "GET /p.gif", "POST /api/event", "POST /beacon"} {
		if v, ok := seen[req]; !ok || strings.TrimSpace(v) == "" {
			t.Errorf("chromium's %s: Accept-Language %q (seen: %v)", req, v, ok)
		}
	}
	if v := seen["GET /go.gif"]; v != "" {
		t.Errorf("Go's client sent Accept-Language %q; the test expects a script's shape", v)
	}
	t.Logf("chromium's Accept-Language: %q", seen["GET /p.gif"])
}
