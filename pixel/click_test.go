package pixel

import (
	"net/url"
	"strings"
	"testing"
)

func TestLinkSignVerify(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k := NewKey(secret)
	l := Link{Site: "example.com", Campaign: "spring", Label: "cta", Destination: "https://shop.example.com/a?b=c",
		Recipient: "r-1", Consent: true, KeyID: "k1", Expires: 1893456000, Links: 3}
	sig := k.SignLink(l)
	if !k.VerifyLink(l, sig) {
		t.Fatal("a fresh link signature does not verify")
	}
	// Every field is covered, and boundaries are unambiguous.
	for name, change := range map[string]func(*Link){
		"site":        func(x *Link) { x.Site = "other.com" },
		"campaign":    func(x *Link) { x.Campaign = "autumn" },
		"label":       func(x *Link) { x.Label = "cta2" },
		"destination": func(x *Link) { x.Destination = "https://evil.example/a?b=c" },
		"query":       func(x *Link) { x.Destination = "https://shop.example.com/a?b=d" },
		"recipient":   func(x *Link) { x.Recipient = "r-2" },
		"consent":     func(x *Link) { x.Consent = false },
		"key":         func(x *Link) { x.KeyID = "k2" },
		"expiry":      func(x *Link) { x.Expires = 0 },
		"links":       func(x *Link) { x.Links = 4 },
		"honeypot":    func(x *Link) { x.Honeypot = true },
		"boundary":    func(x *Link) { x.Destination, x.Recipient = "https://shop.example.com/a?b=c\nr-1", "" },
	} {
		x := l
		change(&x)
		if k.VerifyLink(x, sig) {
			t.Errorf("the signature still verifies after changing the %s", name)
		}
	}
	// An open pixel's signature is not a link's, even for equal fields.
	c := Claims{Site: l.Site, Campaign: l.Campaign, Recipient: l.Recipient, Consent: true, KeyID: "k1", Expires: l.Expires}
	if k.VerifyLink(l, k.Sign(c)) || k.Verify(c, sig) {
		t.Error("a signature verifies across kinds")
	}
	if NewKey(nil).VerifyLink(l, sig) || NewKey([]byte("another secret of 32 characters!")).VerifyLink(l, sig) {
		t.Error("verifies without the secret")
	}
	for _, bad := range []string{"", sig[:len(sig)-1], sig + "A", strings.Repeat("!", len(sig))} {
		if k.VerifyLink(l, bad) {
			t.Errorf("VerifyLink accepted %q", bad)
		}
	}
}

func TestClickURL(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	l := Link{Site: "example.com", Campaign: "spring", Label: "cta", Destination: "https://shop.example.com/a?b=c&d=e#f", Recipient: "r 1/x", Links: 2}
	raw, err := ClickURL("https://stats.example.com/", secret, l)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/l/example.com/spring/cta" || q.Get("u") != l.Destination || q.Get("r") != l.Recipient || q.Get("n") != "2" ||
		q.Has("h") || q.Has("c") || !NewKey(secret).VerifyLink(l, q.Get("s")) {
		t.Errorf("%s does not round-trip %+v", raw, l)
	}
	for name, bad := range map[string]Link{
		"label":       {Site: "example.com", Campaign: "c", Label: "a b", Destination: "https://example.com/"},
		"no label":    {Site: "example.com", Campaign: "c", Destination: "https://example.com/"},
		"destination": {Site: "example.com", Campaign: "c", Label: "a", Destination: "javascript:alert(1)"},
		"key":         {Site: "example.com", Campaign: "c", Label: "a", Destination: "https://example.com/", KeyID: "bad id"},
		"links":       {Site: "example.com", Campaign: "c", Label: "a", Destination: "https://example.com/", Links: -1},
		"campaign":    {Site: "example.com", Campaign: "a\nb", Label: "a", Destination: "https://example.com/"},
	} {
		if _, err := ClickURL("https://stats.example.com", secret, bad); err == nil {
			t.Errorf("%s: ClickURL signed %+v", name, bad)
		}
		if NewKey(secret).VerifyLink(bad, NewKey(secret).SignLink(bad)) {
			t.Errorf("%s: a link ClickURL refuses verifies", name)
		}
	}
}

func TestValidDestination(t *testing.T) {
	for _, ok := range []string{
		"https://example.com", "http://example.com/", "https://example.com:8443/a/b?c=d&e=%20#frag",
		"https://[2001:db8::1]/x", "https://xn--exmple-cua.com/", "https://example.com/" + strings.Repeat("a", 1900),
	} {
		if err := ValidDestination(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "example.com", "//evil.example", "///evil.example", "\\\\evil.example", "/\\evil.example", "javascript:alert(1)",
		"jAvAsCrIpT:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "vbscript:x", "https:evil.example", "https:/evil.example",
		"HTTP://example.com/", "https://example.com/\x00", "https://example.com/\n", "https://a@example.com/", "https://:@example.com/",
		"https://example.com/" + strings.Repeat("a", 2000), "https://%65vil.example/", "https://example.com\\@evil.example/",
	} {
		if err := ValidDestination(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHoneypotHTMLEscapes(t *testing.T) {
	h := HoneypotHTML(`https://stats.example.com/l/example.com/c/hp?h=1&s=x"><script>`)
	if !strings.Contains(h, "h=1&amp;s=x&#34;&gt;&lt;script&gt;") || strings.Contains(h, "<script>") {
		t.Errorf("not escaped: %s", h)
	}
	if !strings.Contains(h, "display:none") || !strings.HasSuffix(h, "></a>") {
		t.Errorf("not hidden or not empty: %s", h)
	}
}

// FuzzVerifyLink: a link signature verifies only as SignLink's own output
// for exactly the signed link, and VerifyLink never panics.
func FuzzVerifyLink(f *testing.F) {
	f.Add("example.com", "spring", "cta", "https://shop.example.com/?a=b", "r-42", true, 3, false, "")
	f.Add("e", "c", "l", "javascript:x", "", false, 0, true, "AAAAAAAAAAAAAAAAAAAAAA")
	k := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	f.Fuzz(func(t *testing.T, site, campaign, label, dest, recipient string, consent bool, links int, honeypot bool, sig string) {
		l := Link{Site: site, Campaign: campaign, Label: label, Destination: dest, Recipient: recipient,
			Consent: consent, Links: links, Honeypot: honeypot}
		good := k.SignLink(l)
		if k.VerifyLink(l, sig) && sig != good {
			t.Fatalf("%q verifies for %+v but is not its signature", sig, l)
		}
		if ok := k.VerifyLink(l, good); ok != (l.check() == nil) {
			t.Fatalf("VerifyLink(SignLink(%+v)) = %v, check says %v", l, ok, l.check())
		}
		if ValidDestination(dest) == nil {
			u, err := url.Parse(dest)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				t.Fatalf("%q is accepted as a destination", dest)
			}
		}
	})
}
