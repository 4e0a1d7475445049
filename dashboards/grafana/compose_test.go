package grafana_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tally/dashboards/grafana"
)

// TestGrafanaUserScript runs the ClickHouse init script with a stand-in
// clickhouse client: it refuses weak or unquotable passwords, and grants
// the Grafana user SELECT on the views and nothing else.
func TestGrafanaUserScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "sql")
	stub := "#!/bin/sh\ncat > " + out + "\n"
	if err := os.WriteFile(filepath.Join(dir, "clickhouse"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(pw string) (string, error) {
		os.Remove(out)
		cmd := exec.Command(bash, "clickhouse/grafana-user.sh")
		cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "CLICKHOUSE_USER=tally", "CLICKHOUSE_PASSWORD=x", "CLICKHOUSE_DB=analytics",
			"GRAFANA_CLICKHOUSE_PASSWORD=" + pw}
		msg, err := cmd.CombinedOutput()
		sql, _ := os.ReadFile(out)
		if err != nil {
			return string(msg), err
		}
		return string(sql), nil
	}
	if sql, err := run(""); err != nil || sql != "" {
		t.Fatalf("no password: %v %q", err, sql)
	}
	for _, bad := range []string{"short-but-ok", "has'quote-0123456789", `back\slash-0123456789`, "spa ce-0123456789"} {
		if msg, err := run(bad); err == nil {
			t.Errorf("password %q accepted", bad)
		} else if strings.Contains(msg, bad) {
			t.Errorf("password %q echoed: %s", bad, msg)
		}
	}
	sql, err := run("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(sql, err)
	}
	if !strings.Contains(sql, "CREATE USER IF NOT EXISTS grafana") || !strings.Contains(sql, "readonly = 1") {
		t.Fatalf("no read-only user: %s", sql)
	}
	var granted []string
	for _, m := range regexp.MustCompile(`(?m)^GRANT (\w+) ON analytics\.(\w+) TO grafana;$`).FindAllStringSubmatch(sql, -1) {
		if m[1] != "SELECT" {
			t.Errorf("grants %s", m[0])
		}
		granted = append(granted, m[2])
	}
	if strings.Count(sql, "GRANT") != len(granted) || !slices.Equal(granted, grafana.Views) {
		t.Fatalf("grants %v, want SELECT on exactly %v:\n%s", granted, grafana.Views, sql)
	}
}

// TestComposeGrafana checks the grafana part of docker-compose.yml as
// Debian's docker-compose reads it: Grafana on localhost only, no default
// password, the read-only user.
func TestComposeGrafana(t *testing.T) {
	dc, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no docker-compose on PATH")
		}
		t.Skip("no docker-compose (apt-get install docker-compose)")
	}
	cmd := exec.Command(dc, "--profile", "grafana", "config")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "ADMIN_PASSWORD=x", "GRAFANA_ADMIN_PASSWORD=", "GRAFANA_BIND=", "GRAFANA_CLICKHOUSE_PASSWORD=")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, b)
	}
	cfg := string(b)
	i := strings.Index(cfg, "\n  grafana:\n")
	if i < 0 {
		t.Fatalf("no grafana service:\n%s", cfg)
	}
	g := cfg[i:]
	if j := strings.Index(g[1:], "\n  c"); j > 0 { // up to the next service, if any
		g = g[:j+1]
	}
	for _, want := range []string{"127.0.0.1:3000:3000", "CLICKHOUSE_USER: grafana", "GF_AUTH_ANONYMOUS_ENABLED: \"false\"", "exec /run.sh"} {
		if !strings.Contains(g, want) {
			t.Errorf("grafana service lacks %q:\n%s", want, g)
		}
	}
	for _, bad := range []string{"0.0.0.0:3000", "CLICKHOUSE_USER: tally", "GF_SECURITY_ADMIN_PASSWORD: admin"} {
		if strings.Contains(g, bad) {
			t.Errorf("grafana service has %q:\n%s", bad, g)
		}
	}
	if !strings.Contains(cfg, "grafana-user.sh:/docker-entrypoint-initdb.d/grafana-user.sh:ro") {
		t.Error("ClickHouse does not run the Grafana user script")
	}
}
