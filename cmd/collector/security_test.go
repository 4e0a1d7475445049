package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tally/internal/certs/certtest"
	"tally/internal/chtest"
	"tally/pixel"
	"tally/sites"
)

// TestHelpShowsNoSecret: -h prints every setting, but no secret taken from
// the environment, not even the password inside the ClickHouse URL.
func TestHelpShowsNoSecret(t *testing.T) {
	secrets := map[string]string{
		"ADMIN_PASSWORD": "admin-secret-value-123456",
		"SESSION_KEY":    "session-secret-value-0123456789abcdef",
		"METRICS_TOKEN":  "metrics-secret-value-98765",
		"CLICKHOUSE_URL": "clickhouse://tally:ch-secret-value-555@10.0.0.9:9000/analytics",
	}
	var out, errs bytes.Buffer
	if err := run([]string{"-h"}, func(k string) string { return secrets[k] }, &out, &errs); err != nil {
		t.Fatal(err)
	}
	help := out.String() + errs.String()
	if !strings.Contains(help, "-admin-password") || !strings.Contains(help, "-clickhouse-url") {
		t.Fatalf("help lists no settings: %s", help)
	}
	for _, needle := range []string{"admin-secret-value", "session-secret-value", "metrics-secret-value", "ch-secret-value"} {
		if strings.Contains(help, needle) {
			t.Errorf("-h shows a secret (%s)", needle)
		}
	}
}

// TestExampleSecretRefused: the shipped example secret is public, so the
// collector refuses to start with it unless in dev mode.
func TestExampleSecretRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sites.json")
	if err := os.WriteFile(path, []byte(`{"sites":[{"domain":"example.com","email_secret":"`+sites.ExampleSecrets[0]+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	chURL, _ := chtest.Database(t)
	env := map[string]string{"SITES_FILE": path, "ADMIN_PASSWORD": "integration-admin-password", "SPOOL_DIR": "-",
		"METRICS_ADDR": "-", "LISTEN_ADDR": "127.0.0.1:0", "CLICKHOUSE_URL": chURL}
	var out, errs bytes.Buffer
	err := run(nil, func(k string) string { return env[k] }, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "example email secret") {
		t.Fatalf("start with the example secret: %v", err)
	}
	env["DEV"] = "true"
	cfg, err := parse(t, env)
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("dev mode with the example secret: %v", err)
	}
	a.opened.close()
}

// Pixel keys: one site with a legacy secret, two keyed secrets and send
// tokens.
const (
	keyOld    = "old-key-old-key-old-key-old-key-old-key"
	keyNew    = "new-key-new-key-new-key-new-key-new-key"
	sendToken = "send-token-0123456789"
)

func keyedSites() string {
	h := sha256.Sum256([]byte(sendToken))
	return `{"sites":[{"domain":"example.com","email_secret":"` + secret + `",
		"email_keys":[{"id":"k1","secret":"` + keyOld + `"},{"id":"k2","secret":"` + keyNew + `"}],
		"sent_tokens":["sha256:` + hex.EncodeToString(h[:]) + `"]}]}`
}

// TestPixelKeysAndSendTokensThroughTheServer replays the attacks on email
// URLs: an expired URL, an unknown key, a forged expiry; and checks that
// every URL signed before keeps counting.
func TestPixelKeysAndSendTokensThroughTheServer(t *testing.T) {
	r := startCollectorWith(t, harness{sites: keyedSites()})
	now := time.Now().Unix()
	open := func(c pixel.Claims, secret string) string { return pixel.EmailURL("", []byte(secret), c) }
	claims := func(campaign, kid string, exp int64) pixel.Claims {
		return pixel.Claims{Site: "example.com", Campaign: campaign, Recipient: "r-1", KeyID: kid, Expires: exp}
	}
	counted := map[string]string{
		"legacy":  open(claims("legacy", "", 0), secret),          // an unversioned URL sent before keys existed
		"old-key": open(claims("old-key", "k1", 0), keyOld),       // signed with a key still listed
		"new-key": open(claims("new-key", "k2", 0), keyNew),       // the newest key
		"future":  open(claims("future", "k2", now+3600), keyNew), // not yet expired
	}
	expiredURL := open(claims("expired", "k2", now-10), keyNew)
	forged := strings.Replace(expiredURL, "x="+strconv.FormatInt(now-10, 10), "x="+strconv.FormatInt(now+99999, 10), 1)
	notCounted := map[string]string{
		"expired":     expiredURL,
		"forged-exp":  forged,
		"unknown-key": open(claims("unknown-key", "k9", 0), keyNew),
		"wrong-key":   open(claims("wrong-key", "k1", 0), keyNew),
		"no-key-id":   open(claims("no-key-id", "", now+3600), keyNew),
	}
	for name, u := range counted {
		status, body := r.send(t, hit{path: u, ua: uaChromeWin, ip: ipGB})
		if status != http.StatusOK || !bytes.HasPrefix(body, []byte("GIF89a")) {
			t.Fatalf("%s: %d", name, status)
		}
	}
	for name, u := range notCounted {
		status, body := r.send(t, hit{path: u, ua: uaChromeWin, ip: ipGB})
		if status != http.StatusOK || !bytes.HasPrefix(body, []byte("GIF89a")) {
			t.Fatalf("%s: %d, want the GIF all the same", name, status)
		}
	}
	// Sends: the pixel secret is no longer a send token once tokens exist.
	sent := func(token string) int {
		status, _ := r.send(t, hit{method: http.MethodPost, path: "/api/campaigns/new-key/sent", body: `{"site":"example.com","count":10}`,
			header: map[string]string{"Authorization": "Bearer " + token}})
		return status
	}
	if got := sent(secret); got != http.StatusUnauthorized {
		t.Errorf("/sent with the pixel secret: %d", got)
	}
	if got := sent(keyNew); got != http.StatusUnauthorized {
		t.Errorf("/sent with a pixel key: %d", got)
	}
	if got := sent(sendToken); got != http.StatusAccepted {
		t.Errorf("/sent with the send token: %d", got)
	}
	r.stop()
	got := r.emailCounters(t)
	for name := range counted {
		if c := got["example.com|"+name+"|total|"]; c[1] != 1 {
			t.Errorf("%s: %d opens, want 1", name, c[1])
		}
	}
	for name := range notCounted {
		if c, ok := got["example.com|"+name+"|total|"]; ok {
			t.Errorf("%s counted: %v", name, c)
		}
	}
	if c := got["example.com|new-key|total|"]; c[0] != 10 {
		t.Errorf("sends of new-key: %d, want 10 (the one authorised report)", c[0])
	}
}

// TestMetricsAreNotPublic: /metrics is absent from the public listener
// (404), refused there without the token, and served on METRICS_ADDR.
func TestMetricsAreNotPublic(t *testing.T) {
	port := freePort(t)
	r := startCollectorWith(t, harness{env: map[string]string{
		"METRICS_ADDR": "127.0.0.1:" + strconv.Itoa(port), "METRICS_TOKEN": "",
	}})
	if status, _ := r.send(t, hit{path: "/metrics"}); status != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d, want 404", status)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(b.String(), "tally_pending_rows") {
		t.Errorf("METRICS_ADDR: %d", resp.StatusCode)
	}

	tok := startCollectorWith(t, harness{}) // METRICS_TOKEN set, no METRICS_ADDR
	if status, _ := tok.send(t, hit{path: "/metrics"}); status != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", status)
	}
	if status, _ := tok.send(t, hit{path: "/metrics", header: map[string]string{"Authorization": "Bearer wrong"}}); status != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d", status)
	}
	if status, _ := tok.send(t, hit{path: "/metrics", header: map[string]string{"Authorization": "Bearer " + testMetricsToken}}); status != http.StatusOK {
		t.Errorf("/metrics with the token: %d", status)
	}
}

// TestIdleSocketsCannotStarveDashboards: with the cap at 20, 20 idle
// keep-alive sockets held by pixel clients do not keep the dashboards, or
// any new client, out.
func TestIdleSocketsCannotStarveDashboards(t *testing.T) {
	r := startCollectorWith(t, harness{env: map[string]string{"MAX_CONNS": "20", "MAX_CONNS_PER_CLIENT": "-1"}})
	addr := strings.TrimPrefix(r.base, "http://")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /p.gif?d=example.com&u=https%%3A%%2F%%2Fexample.com%%2F HTTP/1.1\r\nHost: x\r\nUser-Agent: %s\r\n\r\n", uaFirefox)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("idle socket %d: %v", i, err)
		}
		resp.Body.Close()
		held = append(held, c) // stays open, idle
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 10; i++ {
		resp, err := client.Get(r.base + "/login")
		if err != nil {
			t.Fatalf("dashboards at the cap: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("dashboards at the cap: %d", resp.StatusCode)
		}
	}
}

// TestTLS: HTTPS with a certificate made here, HSTS on every answer,
// Secure cookies, and a certificate swapped on SIGHUP without a restart.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := certtest.Write(t, dir, "first")
	r := startCollectorWith(t, harness{tls: true, env: map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile}})
	addr := strings.TrimPrefix(r.base, "https://")
	presented := func() []byte {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	if !bytes.Equal(presented(), first) {
		t.Fatal("the server does not present the configured certificate")
	}
	resp, err := r.client.Get(r.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("healthz over TLS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	// Plain HTTP to the TLS port gets no answer worth reading.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP is served on the TLS port")
		}
	}
	// Signing in over TLS sets a Secure cookie without SECURE_COOKIES.
	noRedirect := *r.client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = noRedirect.PostForm(r.base+"/login", url.Values{"user": {"admin"}, "password": {"integration-admin-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(strings.ToLower(sc), "; secure") {
		t.Fatalf("sign-in over TLS: %d, cookie %q", resp.StatusCode, sc)
	}
	// A renewed certificate is picked up on SIGHUP; connections go on.
	_, _, second := certtest.Write(t, dir, "second")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !bytes.Equal(presented(), second) {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served after SIGHUP")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(r.logs.String(), "reloaded the TLS certificate") {
		t.Error("the reload is not logged")
	}
}
