package pixel

import (
	"net/url"
	"strings"
	"testing"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	c := Claims{Site: "example.com", Campaign: "spring-sale", Recipient: "r-42", Consent: true}
	sig := Sign(secret, c)
	if !Verify(secret, c, sig) {
		t.Fatal("a fresh signature does not verify")
	}
	if Sign(secret, c) != sig {
		t.Fatal("signing is not deterministic")
	}
	// Every claim is covered by the signature.
	for name, changed := range map[string]Claims{
		"site":      {Site: "other.com", Campaign: c.Campaign, Recipient: c.Recipient, Consent: true},
		"campaign":  {Site: c.Site, Campaign: "autumn", Recipient: c.Recipient, Consent: true},
		"recipient": {Site: c.Site, Campaign: c.Campaign, Recipient: "r-43", Consent: true},
		"consent":   {Site: c.Site, Campaign: c.Campaign, Recipient: c.Recipient},
		// Field boundaries are unambiguous: moving text across them changes the MAC.
		"boundary": {Site: c.Site, Campaign: "spring-saler-42", Consent: true},
	} {
		if Verify(secret, changed, sig) {
			t.Errorf("signature still verifies after changing the %s", name)
		}
	}
	if Verify([]byte("another-secret-another-secret-xx"), c, sig) {
		t.Error("signature verifies under another secret")
	}
	for _, bad := range []string{"", "x", sig[:len(sig)-1], sig + "A", strings.Repeat("!", len(sig))} {
		if Verify(secret, c, bad) {
			t.Errorf("Verify accepted %q", bad)
		}
	}
	if Verify(nil, c, sig) {
		t.Error("Verify accepted a signature for a site without a secret")
	}
}

func TestEmailURL(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	c := Claims{Site: "example.com", Campaign: "spring-sale", Recipient: "r 42/x"}
	raw := EmailURL("https://stats.example.com/", secret, c)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/e/example.com/spring-sale.gif" {
		t.Errorf("path = %q", u.Path)
	}
	q := u.Query()
	if q.Get("r") != c.Recipient || q.Has("c") || !Verify(secret, c, q.Get("s")) {
		t.Errorf("query %v does not round-trip the claims", q)
	}
}
