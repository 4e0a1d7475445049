package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tally/aggregator"
	"tally/pixel"
)

func parse(t *testing.T, env map[string]string, args ...string) (*config, error) {
	t.Helper()
	fs := newFlagSet()
	fs.SetOutput(&bytes.Buffer{})
	cfg, check := bindConfig(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return cfg, check()
}

func TestConfigDefaultsEnvAndFlags(t *testing.T) {
	cfg, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != ":8080" || cfg.ClickHouseURL != "clickhouse://127.0.0.1:9000/analytics" ||
		cfg.FlushInterval != 10*time.Second || cfg.TrustedProxies != "" || cfg.SyncInterval != 500*time.Millisecond ||
		cfg.SpoolMaxBytes != 1<<30 {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err = parse(t, map[string]string{"LISTEN_ADDR": ":9999", "FLUSH_INTERVAL": "3s", "DEV": "true"})
	if err != nil || cfg.ListenAddr != ":9999" || cfg.FlushInterval != 3*time.Second || !cfg.Dev {
		t.Fatalf("environment fallback: %+v %v", cfg, err)
	}
	cfg, err = parse(t, map[string]string{"LISTEN_ADDR": ":9999"}, "-listen-addr", ":7000")
	if err != nil || cfg.ListenAddr != ":7000" {
		t.Fatalf("a flag must win over the environment: %+v %v", cfg, err)
	}
	for env, want := range map[string]string{"FLUSH_INTERVAL": "soon", "DEV": "maybe", "UA_CACHE_SIZE": "many", "LOG_LEVEL": "loud"} {
		if _, err := parse(t, map[string]string{env: want}); err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("invalid %s=%s: error %v should name it", env, want, err)
		}
	}
	if _, err := parse(t, nil, "-flush-interval", "0s"); err == nil {
		t.Error("a zero flush interval was accepted")
	}
}

func TestSignPixelCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sites.json")
	os.WriteFile(path, []byte(`{"sites":[{"domain":"example.com","email_secret":"`+secret+`"},{"domain":"nomail.example"}]}`), 0o600)
	var out, errs bytes.Buffer
	err := run([]string{"sign-pixel", "-sites-file", path, "-site", "example.com", "-campaign", "spring-sale", "-recipient", "r-7", "-base", "https://stats.example.com"},
		func(string) string { return "" }, &out, &errs)
	if err != nil {
		t.Fatalf("sign-pixel: %v %s", err, errs.String())
	}
	u, err := url.Parse(strings.TrimSpace(out.String()))
	if err != nil || u.Host != "stats.example.com" || u.Path != "/e/example.com/spring-sale.gif" {
		t.Fatalf("printed %q", out.String())
	}
	claims := pixel.Claims{Site: "example.com", Campaign: "spring-sale", Recipient: "r-7"}
	if !pixel.Verify([]byte(secret), claims, u.Query().Get("s")) {
		t.Fatal("the printed URL does not verify")
	}
	for _, args := range [][]string{
		{"-site", "example.com"},                        // no campaign
		{"-site", "example.com", "-campaign", "bad id"}, // invalid campaign
		{"-site", "unknown.example", "-campaign", "c"},  // undeclared site
		{"-site", "nomail.example", "-campaign", "c"},   // no secret
	} {
		full := append([]string{"sign-pixel", "-sites-file", path}, args...)
		if err := run(full, func(string) string { return "" }, &out, &errs); err == nil {
			t.Errorf("sign-pixel %v succeeded", args)
		}
	}
}

// TestHealthcheckCommand: the container healthcheck asks the local
// collector's /healthz and fails when it is unhealthy or unreachable.
func TestHealthcheckCommand(t *testing.T) {
	healthy := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	if err := healthcheck(":"+port, false); err != nil {
		t.Fatalf("healthy collector: %v", err)
	}
	healthy = false
	if err := healthcheck(":"+port, false); err == nil {
		t.Fatal("an unhealthy collector passed the healthcheck")
	}
	srv.Close()
	if err := healthcheck(":"+port, false); err == nil {
		t.Fatal("an unreachable collector passed the healthcheck")
	}
}

// TestClosersCloseLastOpenedFirst: build's cleanup list closes in reverse
// order, goes on past a failure and names every part that failed.
func TestClosersCloseLastOpenedFirst(t *testing.T) {
	var order []string
	var cs closers
	for _, name := range []string{"first", "second", "third"} {
		cs.push(name, func() error {
			order = append(order, name)
			if name != "second" {
				return errors.New("boom")
			}
			return nil
		})
	}
	err := cs.close()
	if strings.Join(order, ",") != "third,second,first" {
		t.Fatalf("closed in order %v", order)
	}
	if err == nil || !strings.Contains(err.Error(), "cannot close third: boom") ||
		!strings.Contains(err.Error(), "cannot close first: boom") || strings.Contains(err.Error(), "second") {
		t.Fatalf("error %v", err)
	}
	if err := (closers{}).close(); err != nil {
		t.Fatalf("nothing to close: %v", err)
	}
}

func TestConfigRetentionDropAndValueCap(t *testing.T) {
	cfg, err := parse(t, nil)
	if err != nil || cfg.RetentionDrop || cfg.MaxValuesPerHour != aggregator.DefaultMaxValuesPerHour {
		t.Fatalf("defaults: drop %v, values per hour %d, %v", cfg.RetentionDrop, cfg.MaxValuesPerHour, err)
	}
	cfg, err = parse(t, map[string]string{"RETENTION_DROP": "true", "RETENTION": "2160h", "MAX_VALUES_PER_HOUR": "50"})
	if err != nil || !cfg.RetentionDrop || cfg.Retention != 90*24*time.Hour || cfg.MaxValuesPerHour != 50 {
		t.Fatalf("from the environment: %+v %v", cfg, err)
	}
	if _, err := parse(t, map[string]string{"RETENTION_DROP": "true", "RETENTION": "0s"}); err == nil {
		t.Error("RETENTION_DROP without a positive RETENTION was accepted")
	}
	if _, err := parse(t, map[string]string{"RETENTION_DROP": "sometimes"}); err == nil || !strings.Contains(err.Error(), "RETENTION_DROP") {
		t.Errorf("an invalid RETENTION_DROP: %v", err)
	}
}
