package sites_test

import (
	"strings"
	"testing"

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
