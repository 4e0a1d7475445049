package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// uaDir finds crawlerdetect's test data in the module cache.
func uaDir(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip("no go command")
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com/x-way/crawlerdetect@v0.2.30/testdata")
	if _, err := os.Stat(filepath.Join(dir, "devices.txt")); err != nil {
		t.Skip("crawlerdetect v0.2.30 is not in the module cache (go mod download github.com/x-way/crawlerdetect in the main module)")
	}
	return dir
}

func TestTrafficIsValidHTTPInTheMix(t *testing.T) {
	cfg := trafficConfig{Seed: 7, Requests: 4000, Visitors: 1000, HumanUAs: 500, CrawlerUAs: 50, CrawlerRate: 0.03,
		UAFiles: uaDir(t), Site: "example.com", PageHost: "www.example.com", Secret: "s3cret", Campaigns: 3,
		Recipients: 100, Mix: [4]int{55, 5, 25, 15}}
	tr, err := buildTraffic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tr.humanUAs != 500 || tr.crawlerUAs != 50 || tr.addresses < 990 {
		t.Errorf("traffic has %d human and %d crawler agents, %d addresses", tr.humanUAs, tr.crawlerUAs, tr.addresses)
	}
	share := func(k int) float64 { return float64(tr.perKind[k]) / float64(len(tr.reqs)) }
	if s := share(kindPageview); s < 0.5 || s > 0.6 {
		t.Errorf("page views are %.2f of the traffic", s)
	}
	if s := share(kindEmail) + share(kindForged); s < 0.12 || s > 0.18 {
		t.Errorf("email opens are %.2f of the traffic", s)
	}
	agents := map[string]bool{}
	for i, raw := range tr.reqs {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("request %d does not parse: %v\n%s", i, err, raw)
		}
		body, _ := io.ReadAll(req.Body)
		agents[req.UserAgent()] = true
		if req.Header.Get("X-Forwarded-For") == "" {
			t.Fatalf("request %d has no client address", i)
		}
		switch tr.kinds[i] {
		case kindPageview, kindCustom:
			if req.Method != "POST" || req.URL.Path != "/api/event" || len(body) == 0 {
				t.Fatalf("request %d is not an event: %s", i, raw)
			}
		case kindPixel:
			if req.URL.Path != "/p.gif" || req.URL.Query().Get("d") != "example.com" {
				t.Fatalf("request %d is not a pixel: %s", i, raw)
			}
		case kindEmail, kindForged:
			if !strings.HasPrefix(req.URL.Path, "/e/example.com/") || req.URL.Query().Get("s") == "" {
				t.Fatalf("request %d is not an email pixel: %s", i, raw)
			}
		}
	}
	if len(agents) < 300 {
		t.Errorf("only %d distinct user agents in 4000 requests", len(agents))
	}
}
