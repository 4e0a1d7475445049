package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDataCentreRangesAndReload runs the data-centre layer through the
// real server: a CIDR file filters hits from its ranges as datacenter; a
// rewritten file applies after SIGHUP; a file with a garbage line keeps
// the previous ranges and logs an error that names the line, not its
// content; and no address reaches ClickHouse or the log.
func TestDataCentreRangesAndReload(t *testing.T) {
	ranges := filepath.Join(t.TempDir(), "cloud-ranges.txt")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(ranges, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# a cloud provider's published ranges\n198.51.100.0/24\n")
	spamList := filepath.Join(filepath.Dir(ranges), "spammers.txt")
	if err := os.WriteFile(spamList, []byte("# Matomo's format\nspam-referrer.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startCollectorWith(t, harness{env: map[string]string{"DATACENTER_RANGES": ranges, "DATACENTER_DEFAULT": "false",
		"REFERRER_SPAM_LIST": spamList}})
	send := func(ip, path, ref, extra string, header map[string]string) {
		t.Helper()
		status, body := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ip, ua: uaChromeWin, header: header,
			body: `{"name":"pageview","url":"https://example.com` + path + `","domain":"example.com","referrer":"` + ref + `","consent":{"analytics":"granted"}` + extra + `}`})
		if status != http.StatusAccepted {
			t.Fatalf("event: %d %s", status, body)
		}
	}
	pageview := func(ip, path, ref string) { t.Helper(); send(ip, path, ref, "", nil) }
	pageview(ipUS, "/one", "") // listed: filtered
	pageview(ipGB, "/one", "") // not listed: counted

	// The provider's ranges change: England's network is listed instead.
	write("81.2.69.0/24\n")
	reload(t, r, "reloaded data-centre ranges")
	pageview(ipUS, "/two", "")
	pageview(ipGB, "/two", "")

	// A bad edit: the previous ranges stay in use.
	const garbage = "203.0.113.77 and then some"
	write("198.51.100.0/24\n" + garbage + "\n")
	reload(t, r, "previous list kept")
	pageview(ipUS, "/three", "")
	pageview(ipGB, "/three", "")

	// A visit an assistant sent.
	pageview(ipDE, "/four", "https://chatgpt.com/")
	// The other layers that read the request: the operator's spam list,
	// the tracker's webdriver report, a browser's agent without
	// Accept-Language.
	pageview(ipDE, "/five", "https://www.spam-referrer.example/offer")
	send(ipDE, "/five", "", `,"wd":true`, nil)
	send(ipDE, "/five", "", "", map[string]string{"Accept-Language": ""})
	r.stop()

	web := r.webCounters(t)
	for k, want := range map[string][3]int64{ // hits, pageviews, visitors
		"example.com|filtered|datacenter":    {3, 0, 0},
		"example.com|filtered|referrer_spam": {1, 0, 0},
		"example.com|filtered|automation":    {1, 0, 0},
		"example.com|filtered|request_shape": {1, 0, 0},
		"example.com|path|/five":             {0, 0, 0},
		"example.com|path|/one":              {1, 1, 1},
		"example.com|path|/two":              {1, 1, 1},
		"example.com|path|/three":            {1, 1, 1},
		"example.com|country|GB":             {1, 1, 1},
		"example.com|country|US":             {2, 2, 1},
		"example.com|source|ChatGPT":         {1, 1, 1},
		"example.com|channel|ai":             {1, 1, 1},
		"example.com|channel|direct":         {3, 3, 2},
	} {
		if got := web[k]; got != want {
			t.Errorf("%s = %v (hits, pageviews, visitors), want %v", k, got, want)
		}
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "cannot load range file "+ranges+": line 2") {
		t.Errorf("the failed reload's error does not name the file and line:\n%s", logs)
	}
	assertNowhere(t, r, []string{ipGB, ipUS, ipDE, "81.2.69.", "198.51.100.", "2001:db8:1:", "203.0.113", garbage})
}

// reload sends the process a SIGHUP, as an operator does, and waits for
// the collector to log want once more than before.
func reload(t *testing.T, r *running, want string) {
	t.Helper()
	before := strings.Count(r.logs.String(), want)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(r.logs.String(), want) == before {
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged 5s after SIGHUP:\n%s", want, r.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertNowhere scans every column of every table, and the log, for the
// needles, and refuses to pass when there was little to scan.
func assertNowhere(t *testing.T, r *running, needles []string) {
	t.Helper()
	scanned, columns := r.scanColumns(t, needles)
	if columns < 10 || scanned < 50 {
		t.Fatalf("scanned %d values in %d columns: the scan would prove nothing", scanned, columns)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, `"route":"/api/event"`) {
		t.Fatalf("the access log is missing, so the log scan proves nothing:\n%s", logs)
	}
	for _, n := range needles {
		if strings.Contains(logs, n) {
			t.Errorf("logs contain %q:\n%s", n, logs)
		}
	}
}

// TestBadListStopsStart: a list that does not load stops the collector at
// start with an error naming the file and line, never the line itself.
func TestBadListStopsStart(t *testing.T) {
	dir := t.TempDir()
	sitesPath := filepath.Join(dir, "sites.json")
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(sitesPath, []byte(`{"sites":[{"domain":"example.com"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ env, body, want string }{
		{"DATACENTER_RANGES", "198.51.100.0/24\n198.51.100.300/24\n", "cannot load data-centre ranges: cannot load range file " + bad + ": line 2"},
		{"DATACENTER_ASN_DB", "1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.1.0,garbage\n", "cannot load data-centre ranges: cannot load range file " + bad + ": line 2"},
		{"DATACENTER_RANGES", "", "cannot load data-centre ranges: cannot open range file"},
		{"REFERRER_SPAM_LIST", "spam.example\nintranet-spam\n", "cannot load referrer spam list: cannot load referrer spam list " + bad + ": line 2"},
	} {
		path := bad
		if tc.body == "" {
			path = filepath.Join(dir, "missing.txt")
		} else if err := os.WriteFile(bad, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "SITES_FILE": sitesPath, "DEV": "true",
			"SPOOL_DIR": "", "CLICKHOUSE_URL": "clickhouse://127.0.0.1:1/never", tc.env: path}
		err := run(nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with %q: error %v, want %q", tc.env, tc.body, err, tc.want)
			continue
		}
		for _, n := range []string{"198.51.100", "1.0.1.0", "intranet-spam", "garbage"} {
			if strings.Contains(err.Error(), n) {
				t.Errorf("the error quotes the file: %v", err)
			}
		}
	}
}

func TestLayersConfig(t *testing.T) {
	cfg, err := parse(t, nil)
	if err != nil || !cfg.DataCentreDefault || cfg.DataCentreRanges != "" || cfg.ReferrerSpamList != "" {
		t.Fatalf("defaults: %+v %v", cfg.layersConfig, err)
	}
	cfg, err = parse(t, map[string]string{"DATACENTER_DEFAULT": "false", "DATACENTER_RANGES": "a.txt, b.txt", "REFERRER_SPAM_LIST": "spam.txt"})
	if err != nil || cfg.DataCentreDefault || cfg.DataCentreRanges != "a.txt, b.txt" || cfg.ReferrerSpamList != "spam.txt" {
		t.Fatalf("from the environment: %+v %v", cfg.layersConfig, err)
	}
	if got := fileList(cfg.DataCentreRanges); len(got) != 2 || got[0] != "a.txt" || got[1] != "b.txt" {
		t.Errorf("fileList = %q", got)
	}
	cfg, err = parse(t, map[string]string{"DATACENTER_DEFAULT": "false"}, "-datacenter-default=true")
	if err != nil || !cfg.DataCentreDefault {
		t.Fatalf("a flag must win: %+v %v", cfg.layersConfig, err)
	}
	if _, err := parse(t, map[string]string{"DATACENTER_DEFAULT": "perhaps"}); err == nil || !strings.Contains(err.Error(), "DATACENTER_DEFAULT") {
		t.Errorf("an invalid DATACENTER_DEFAULT: %v", err)
	}
}
