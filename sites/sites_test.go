package sites_test

import (
	"strings"
	"testing"

	"tally/scrub"
	"tally/sites"
)

func TestDashboardFields(t *testing.T) {
	// any well-formed hash
	const hash = "sha256:0a3d0a1c1dc4fd7ee2e4cdfe1ec8ba3cd3b2d8b4b5b2a9e1a9de68f9b1eb7a0f"
	r, err := sites.Parse(strings.NewReader(`{"sites":[
		{"domain":"a.example","timezone":"Europe/Berlin","min_count_k":8,"api_tokens":["` + hash + `"]},
		{"domain":"b.example"},
		{"domain":"c.example","min_count_k":0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Lookup("a.example")
	if a.Location.String() != "Europe/Berlin" || a.MinCountK != 8 || a.SharedK() != 8 || len(a.APITokenHashes) != 1 {
		t.Fatalf("got %v, k=%d, %d tokens", a.Location, a.MinCountK, len(a.APITokenHashes))
	}
	if a.HasAPIToken("") || a.HasAPIToken("wrong") {
		t.Fatal("accepted a wrong token")
	}
	b, _ := r.Lookup("b.example")
	if b.Location.String() != "UTC" || b.MinCountK != sites.DefaultMinCountK || b.SharedK() != sites.DefaultMinCountK || b.HasAPIToken("x") {
		t.Fatalf("defaults: got %v, k=%d", b.Location, b.MinCountK)
	}
	// An explicit 0 unfolds the admin's view only.
	c, _ := r.Lookup("c.example")
	if c.MinCountK != 0 || c.SharedK() != sites.DefaultMinCountK {
		t.Fatalf("k=0: admin k %d, shared k %d", c.MinCountK, c.SharedK())
	}

	for _, bad := range []string{
		`{"domain":"c.example","timezone":"Mars/Olympus"}`,
		`{"domain":"c.example","api_tokens":["plaintext-token"]}`,
		`{"domain":"c.example","min_count_k":-1}`,
	} {
		if _, err := sites.Parse(strings.NewReader(`{"sites":[` + bad + `]}`)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestHasAPIToken(t *testing.T) {
	// printf %s secret-token | sha256sum
	r, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"a.example","api_tokens":["sha256:930bbdc51b6aed5c2a5678fd6e28dee7a05e8a4b643cfc0b4427c3efb86c0d94"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Lookup("a.example")
	if !a.HasAPIToken("secret-token") {
		t.Fatal("refused the right token")
	}
}

func TestParseMode(t *testing.T) {
	if m, err := sites.ParseMode(""); err != nil || m != sites.ModeAnonymous {
		t.Errorf("ParseMode(\"\") = %v, %v", m, err)
	}
	if _, err := sites.ParseMode("lax"); err == nil {
		t.Error("ParseMode(lax) succeeded")
	}
}

func TestPathRules(t *testing.T) {
	r, err := sites.Parse(strings.NewReader(`{"sites":[
		{"domain":"a.example","path_rules":["/orders/*","/u/*"]},
		{"domain":"b.example"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Lookup("a.example")
	if got := scrub.Path("/u/alice/settings", a.PathRules); got != "/u/*/settings" {
		t.Errorf("a.example scrubs /u/alice/settings to %q", got)
	}
	if got := a.PathRules.Patterns(); len(got) != 2 || got[0] != "/orders/*" {
		t.Errorf("patterns %q", got)
	}
	b, _ := r.Lookup("b.example")
	if b.PathRules == nil || scrub.Path("/u/alice", b.PathRules) != "/u/alice" {
		t.Errorf("a site without rules: %v", b.PathRules)
	}

	for bad, want := range map[string]string{
		`["orders/*"]`:     `site 1 ("c.example"): path_rules: path rule "orders/*": must start with "/"`,
		`["/orders/**"]`:   `"**" is not supported`,
		`["/orders"]`:      `has no "*"`,
		`["/ord_*"]`:       `"*" must be a whole segment`,
		`["/u/*","/u/*"]`:  `declared twice`,
		`["/1234567/*"]`:   `scrubbed to :num`,
		`"/orders/*"`:      `cannot parse JSON`,
		`["/a//*"]`:        `empty segment`,
		`["/orders/*/"]`:   `empty segment`,
		`["/:email/*"]`:    `placeholder`,
		`["/x@example/*"]`: `scrubbed to :email`,
	} {
		_, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"c.example","path_rules":` + bad + `}]}`))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("path_rules %s: error %v, want it to say %s", bad, err, want)
		}
	}
}
