package pixel

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
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

// TestKeyIsTheDocumentedMAC: signatures are HMAC-SHA256 over
// "tally-open-v1\nSITE\nCAMPAIGN\nRECIPIENT\nCONSENT", first 16 bytes,
// unpadded base64url. Email systems that reimplement Sign rely on it, and
// URLs already sent must keep verifying, however Key reuses its states.
func TestKeyIsTheDocumentedMAC(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k := NewKey(secret)
	for i, c := range []Claims{
		{Site: "example.com", Campaign: "spring-sale", Recipient: "r-42", Consent: true},
		{Site: "example.com", Campaign: "c"},
		{Site: "example.com", Campaign: "spring-sale", Recipient: strings.Repeat("long-recipient-", 40)},
		{Site: "example.com", Campaign: "spring-sale", Recipient: "r-42", Consent: true}, // again, from a reused state
	} {
		m := hmac.New(sha256.New, secret)
		consent := "0"
		if c.Consent {
			consent = "1"
		}
		m.Write([]byte("tally-open-v1\n" + c.Site + "\n" + c.Campaign + "\n" + c.Recipient + "\n" + consent))
		want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
		if got := k.Sign(c); got != want || Sign(secret, c) != want {
			t.Fatalf("claims %d: signed %q, want %q", i, got, want)
		}
		if !k.Verify(c, want) {
			t.Fatalf("claims %d: a valid signature does not verify", i)
		}
	}
}

func TestKeyVerifyDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race (sync.Pool drops items on purpose)")
	}
	k := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	c := Claims{Site: "example.com", Campaign: "spring-sale", Recipient: "r-42", Consent: true}
	sig := k.Sign(c)
	if n := testing.AllocsPerRun(1000, func() {
		if !k.Verify(c, sig) {
			t.Fatal("does not verify")
		}
	}); n > 0 {
		t.Fatalf("Verify allocates %.1f times per call; want 0 in steady state", n)
	}
}

func BenchmarkKeyVerify(b *testing.B) {
	k := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	c := Claims{Site: "example.com", Campaign: "spring-sale", Recipient: "r-42", Consent: true}
	sig := k.Sign(c)
	b.ReportAllocs()
	for b.Loop() {
		k.Verify(c, sig)
	}
}

// TestKeyV2IsTheDocumentedMAC pins the v2 encoding (key id and expiry)
// that other languages reimplement.
func TestKeyV2IsTheDocumentedMAC(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k := NewKey(secret)
	for i, c := range []Claims{
		{Site: "example.com", Campaign: "spring-sale", Recipient: "r-42", Consent: true, KeyID: "2026-11"},
		{Site: "example.com", Campaign: "spring-sale", Recipient: "r\n42", KeyID: "k1", Expires: 1893456000},
		{Site: "example.com", Campaign: "c", Expires: 1893456000},
	} {
		m := hmac.New(sha256.New, secret)
		consent := "0"
		if c.Consent {
			consent = "1"
		}
		m.Write([]byte("tally-open-v2\n" + c.KeyID + "\n" + strconv.FormatInt(c.Expires, 10) + "\n" +
			c.Site + "\n" + c.Campaign + "\n" + consent + "\n" + c.Recipient))
		want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
		if got := k.Sign(c); got != want {
			t.Fatalf("claims %d: signed %q, want %q", i, got, want)
		}
		// The key id and the expiry are covered.
		for name, changed := range map[string]Claims{
			"key id":  {Site: c.Site, Campaign: c.Campaign, Recipient: c.Recipient, Consent: c.Consent, KeyID: c.KeyID + "x", Expires: c.Expires},
			"expires": {Site: c.Site, Campaign: c.Campaign, Recipient: c.Recipient, Consent: c.Consent, KeyID: c.KeyID, Expires: c.Expires + 1},
			"v1":      {Site: c.Site, Campaign: c.Campaign, Recipient: c.Recipient, Consent: c.Consent},
		} {
			if k.Verify(changed, want) {
				t.Errorf("claims %d: signature still verifies after changing the %s", i, name)
			}
		}
	}
	if k.Verify(Claims{Site: "example.com", Campaign: "c", KeyID: "bad id"}, k.Sign(Claims{Site: "example.com", Campaign: "c", KeyID: "bad id"})) {
		t.Error("a key id outside the allowed characters verifies")
	}
}

func TestEmailURLCarriesKeyAndExpiry(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	c := Claims{Site: "example.com", Campaign: "spring-sale", Recipient: "r-1", KeyID: "k2", Expires: 1893456000}
	u, err := url.Parse(EmailURL("https://stats.example.com", secret, c))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("k") != "k2" || q.Get("x") != "1893456000" || !Verify(secret, c, q.Get("s")) {
		t.Fatalf("query %v", q)
	}
	if !c.Expired(1893456000) || c.Expired(1893455999) || (Claims{}).Expired(1<<40) {
		t.Error("Expired is wrong at the boundary")
	}
}
