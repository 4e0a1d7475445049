package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tally/collector/uniques"
	"tally/internal/chtest"
	"tally/pixel"
)

// TestRestartKeepsTheDay runs the collector as a child process, stops it
// with SIGTERM and starts it again: the same visitor and the same
// recipient (an open and a click), seen before and after, count once. The handover file exists
// between the two runs only (mode 0600), and one from yesterday is deleted
// unread: with it in place, the visitor counts again.
func TestRestartKeepsTheDay(t *testing.T) {
	if testing.Short() {
		t.Skip("child-process restart test skipped in -short mode")
	}
	if now := time.Now().UTC(); now.Add(2*time.Minute).Day() != now.Day() {
		t.Skip("too close to midnight UTC: the day would change during the test")
	}
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	handover := filepath.Join(spool, uniques.HandoverFile)
	sitesPath := filepath.Join(dir, "sites.json")
	if err := os.WriteFile(sitesPath, []byte(`{"sites":[{"domain":"example.com","email_secret":"`+secret+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	url, conn := chtest.Database(t)
	env := []string{"CLICKHOUSE_URL=" + url, "SITES_FILE=" + sitesPath, "SPOOL_DIR=" + spool, "FLUSH_INTERVAL=200ms",
		"TRUSTED_PROXIES=127.0.0.1/32", "LOG_LEVEL=info", "RATE_LIMIT=-1", "METRICS_ADDR=-", "METRICS_TOKEN=" + testMetricsToken,
		"ADMIN_PASSWORD=integration-admin-password"}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	logPath := filepath.Join(dir, "collector.log")
	logs := func() string { b, _ := os.ReadFile(logPath); return string(b) }

	start := func() *child {
		t.Helper()
		c := startChild(t, env, addr, logPath)
		t.Cleanup(func() {
			if c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
		})
		return c
	}
	term := func(c *child) {
		t.Helper()
		c.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("collector exited with %v after SIGTERM\n%s", err, logs())
			}
		case <-time.After(45 * time.Second):
			c.cmd.Process.Kill()
			t.Fatalf("collector did not stop within 45s\n%s", logs())
		}
	}
	open := pixel.EmailURL("", []byte(secret), pixel.Claims{Site: "example.com", Campaign: "spring", Recipient: "r-1"})
	click, err := pixel.ClickURL("", []byte(secret), pixel.Link{Site: "example.com", Campaign: "spring", Label: "cta",
		Destination: "https://example.com/offer", Recipient: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	hits := func() {
		t.Helper()
		for _, req := range []*http.Request{
			mustRequest(t, http.MethodPost, "http://"+addr+"/api/event",
				`{"name":"pageview","url":"https://example.com/","domain":"example.com","consent":{"analytics":"granted"}}`),
			mustRequest(t, http.MethodGet, "http://"+addr+open, ""),
			mustRequest(t, http.MethodGet, "http://"+addr+click, ""),
		} {
			req.Header.Set("X-Forwarded-For", ipDE)
			req.Header.Set("User-Agent", uaFirefox)
			req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 400 {
				t.Fatalf("%s: %d", req.URL.Path, resp.StatusCode)
			}
		}
	}
	uniqueClicks := func() (clicks, unique int64) {
		t.Helper()
		if err := conn.QueryRow(context.Background(), "SELECT sum(clicks), sum(unique_clicks) FROM "+chtest.DB(conn)+".email_counters WHERE dimension = 'total'").Scan(&clicks, &unique); err != nil {
			t.Fatal(err)
		}
		return
	}
	counts := func() (pageviews, visitors, opens, unique int64) {
		t.Helper()
		db := chtest.DB(conn)
		ctx := context.Background()
		if err := conn.QueryRow(ctx, "SELECT sum(pageviews), sum(visitors) FROM "+db+".web_counters WHERE dimension = 'total'").Scan(&pageviews, &visitors); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT sum(opens), sum(unique_opens) FROM "+db+".email_counters WHERE dimension = 'total'").Scan(&opens, &unique); err != nil {
			t.Fatal(err)
		}
		return
	}

	c := start()
	hits()
	term(c)
	fi, err := os.Stat(handover)
	if err != nil {
		t.Fatalf("no handover file after SIGTERM: %v\n%s", err, logs())
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("handover file mode %v, want 0600", fi.Mode().Perm())
	}

	// A start that fails after reading the file (its metrics address is
	// taken) writes it back: the next start still has the day.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	failing := exec.Command(os.Args[0], "serve")
	failing.Env = append(append(os.Environ(), "TALLY_CHAOS_CHILD=1", "LISTEN_ADDR="+addr), env...)
	failing.Env = append(failing.Env, "METRICS_ADDR="+busy.Addr().String())
	out, err := failing.CombinedOutput()
	busy.Close()
	if err == nil {
		t.Fatalf("a collector whose metrics address is taken started:\n%s", out)
	}
	if _, err := os.Stat(handover); err != nil {
		t.Fatalf("a failed start lost the day's handover: %v\n%s", err, out)
	}

	c = start()
	if _, err := os.Stat(handover); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the handover file survived the start: %v", err)
	}
	hits()
	term(c)
	pv, vis, opens, unique := counts()
	if pv != 2 || vis != 1 || opens != 2 || unique != 1 {
		t.Fatalf("across a restart: %d page views, %d visitors, %d opens, %d unique opens; want 2, 1, 2, 1\n%s", pv, vis, opens, unique, logs())
	}
	if cl, uc := uniqueClicks(); cl != 2 || uc != 1 {
		t.Fatalf("across a restart: %d clicks, %d unique clicks; want 2, 1\n%s", cl, uc, logs())
	}
	if !strings.Contains(logs(), "restored the day's unique visitors, opens and clicks") {
		t.Errorf("the start did not log the restore:\n%s", logs())
	}

	// A handover from yesterday, with today's file replaced by it: deleted
	// unread, so the same visitor and recipient count again.
	yesterday := func() time.Time { return time.Now().Add(-24 * time.Hour) }
	v := uniques.NewVisitors(yesterday)
	v.FirstToday(v.Visitor("example.com", netip.MustParseAddr(ipDE), uaFirefox), "total", "")
	day := uniques.Day{Visitors: v, Opens: uniques.NewOpens(0, yesterday), Clicks: uniques.NewClicks(0, yesterday)}
	if err := uniques.SaveDay(handover, day); err != nil {
		t.Fatal(err)
	}
	c = start()
	if _, err := os.Stat(handover); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("yesterday's handover file survived the start: %v", err)
	}
	hits()
	term(c)
	pv, vis, opens, unique = counts()
	if pv != 3 || vis != 2 || opens != 3 || unique != 2 {
		t.Fatalf("after a start with yesterday's file: %d page views, %d visitors, %d opens, %d unique opens; want 3, 2, 3, 2", pv, vis, opens, unique)
	}
	if cl, uc := uniqueClicks(); cl != 3 || uc != 2 {
		t.Fatalf("after a start with yesterday's file: %d clicks, %d unique clicks; want 3, 2", cl, uc)
	}
	if !strings.Contains(logs(), "from another day: deleted unread") {
		t.Errorf("the start did not log the stale file:\n%s", logs())
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}
