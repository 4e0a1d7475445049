package dashboards_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestGoalsCardInChromium signs in with headless Chromium and reads the
// goals card and the funnel chart as a browser lays them out: the figures
// of the fixture rows, the funnel's bars in proportion (step 2 is 25 of
// 80), the withheld step drawn without a count. The screenshot is kept in
// the test's log (and E2E_SCREENSHOT_DIR).
func TestGoalsCardInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// The browser's clock is the real one: so is the server's here.
	s := newGoalServerAt(t, 5, time.Now)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.app.Listener(ln)
	defer s.app.Shutdown()
	base := "http://" + ln.Addr().String()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 1600))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 30*time.Second)
	defer cancel()

	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/sites/example.com"),
		chromedp.WaitVisible(`input[name=user]`),
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`[data-kpi=pageviews]`),
		chromedp.Navigate(base+"/sites/example.com?"+rangeQ),
		chromedp.WaitVisible(`#goals`),
		chromedp.ScrollIntoView(`#goals`),
	); err != nil {
		t.Fatal(err)
	}
	signup, err := chromedp.Run(bctx, chromedp.Text(`#goals tr[data-goal="Signup"]`))
	if err != nil {
		t.Fatal(err)
	}
	funnel, err := chromedp.Run(bctx, chromedp.Text(`#funnels`))
	if err != nil {
		t.Fatal(err)
	}
	widths, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('#funnels svg rect')].map(r => r.getBoundingClientRect().width)`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err == nil {
		path := filepath.Join(t.TempDir(), "goals.png")
		os.WriteFile(path, shot, 0o644)
		if dir := os.Getenv("E2E_SCREENSHOT_DIR"); dir != "" {
			os.WriteFile(filepath.Join(dir, "goals.png"), shot, 0o644)
		}
		t.Logf("screenshot: %s", path)
	}
	for _, want := range []string{"Signup", "30", "25.0%", "EUR 312.50", "EUR 12.50", "USD < 5"} {
		if !strings.Contains(signup, want) {
			t.Errorf("the Signup row %q lacks %q", signup, want)
		}
	}
	if !strings.Contains(funnel, "80.0%") || !strings.Contains(funnel, "−68.8%") || !strings.Contains(funnel, "< 5") {
		t.Errorf("funnel: %q", funnel)
	}
	if len(widths) != 3 || widths[0] <= 0 || r(widths[1]/widths[0]) != r(25.0/80) {
		t.Errorf("funnel bars %v: want step 2 at 25/80 of step 1", widths)
	}
}

func r(f float64) int { return int(f*100 + 0.5) }
