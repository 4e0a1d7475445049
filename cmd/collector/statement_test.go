package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tally/collector/geo"
	"tally/collector/geo/geotest"
)

// TestStatementCommand: collector statement reads the sites file and the
// server's settings from the environment and flags, as serve does.
func TestStatementCommand(t *testing.T) {
	dir := t.TempDir()
	sitesPath := filepath.Join(dir, "sites.json")
	os.WriteFile(sitesPath, []byte(`{"sites":[{"domain":"example.com","min_count_k":8},{"domain":"strict.example","consent_mode":"strict","email_secret":"`+secret+`"}]}`), 0o600)
	geoPath := filepath.Join(dir, "geo.mmdb")
	geotest.WriteDB(t, geoPath, map[string]geo.Region{"81.2.69.0/24": {Country: "GB"}})
	statementOf := func(env map[string]string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(append([]string{"statement"}, args...), func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), err
	}
	env := map[string]string{"SITES_FILE": sitesPath, "GEOIP_DB": geoPath, "RETENTION_DROP": "true", "RETENTION": "2160h"}
	out, err := statementOf(env, "-site", "strict.example", "-format", "html")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h3>Your consent</h3>", "only if you agree", "deleted after 90 days", "<h3>E-mails</h3>", "country and region", "fewer than 5 visitors"} {
		if !strings.Contains(out, want) {
			t.Errorf("strict.example: missing %q in\n%s", want, out)
		}
	}
	// Flags win over the environment, as for serve; the other site's k.
	out, err = statementOf(env, "-site", "example.com", "-retention-drop=false", "-geoip-db", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Your consent", "anonymously", "viewed for 90 days; they are not deleted automatically", "fewer than 8 visitors", "Your location is not recorded"} {
		if !strings.Contains(out, want) {
			t.Errorf("example.com: missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "E-mails") {
		t.Errorf("a site without e-mail pixels has an e-mail section:\n%s", out)
	}
	for _, bad := range [][]string{{}, {"-site", "nope.example"}, {"-site", "example.com", "-format", "pdf"}} {
		if _, err := statementOf(env, bad...); err == nil {
			t.Errorf("statement %v succeeded", bad)
		}
	}
	if _, err := statementOf(map[string]string{"SITES_FILE": sitesPath, "GEOIP_DB": filepath.Join(dir, "missing.mmdb")}, "-site", "example.com"); err == nil {
		t.Error("a GeoIP database the server could not open was taken as configured")
	}
}
