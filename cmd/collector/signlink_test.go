package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tally/pixel"
)

func TestSignLinkCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sites.json")
	os.WriteFile(path, []byte(`{"sites":[{"domain":"example.com","email_keys":[{"id":"k1","secret":"`+secret+`"}]},{"domain":"nomail.example"}]}`), 0o600)
	var out, errs bytes.Buffer
	args := []string{"sign-link", "-sites-file", path, "-site", "example.com", "-campaign", "spring-sale", "-recipient", "r-7",
		"-base", "https://stats.example.com", "-link", "cta=https://shop.example.com/spring?utm_source=mail&id=1",
		"-link", "logo=https://shop.example.com/", "-honeypot", "-json"}
	if err := run(args, func(string) string { return "" }, &out, &errs); err != nil {
		t.Fatalf("sign-link: %v %s", err, errs.String())
	}
	var got signedLinks
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	key := pixel.NewKey([]byte(secret))
	check := func(raw, label, dest string, honeypot bool) {
		t.Helper()
		u, err := url.Parse(raw)
		if err != nil || u.Host != "stats.example.com" || u.Path != "/l/example.com/spring-sale/"+label {
			t.Fatalf("printed %q", raw)
		}
		q := u.Query()
		l := pixel.Link{Site: "example.com", Campaign: "spring-sale", Label: label, Destination: dest, Recipient: "r-7",
			KeyID: "k1", Links: 2, Honeypot: honeypot}
		if q.Get("u") != dest || !key.VerifyLink(l, q.Get("s")) {
			t.Fatalf("%s does not verify as %+v", raw, l)
		}
	}
	if len(got.Links) != 2 || got.Links[0].Label != "cta" || got.Links[1].Label != "logo" {
		t.Fatalf("links %+v", got.Links)
	}
	check(got.Links[0].URL, "cta", "https://shop.example.com/spring?utm_source=mail&id=1", false)
	check(got.Links[1].URL, "logo", "https://shop.example.com/", false)
	check(got.Honeypot, "hp", "https://example.com/", true)
	if got.HoneypotHTML != pixel.HoneypotHTML(got.Honeypot) {
		t.Fatalf("honeypot markup %q", got.HoneypotHTML)
	}

	// Text output: one "label url" line per link, then the honeypot anchor.
	out.Reset()
	if err := run(args[:len(args)-1], func(string) string { return "" }, &out, &errs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "cta https://stats.example.com/l/") || !strings.HasPrefix(lines[2], `hp <a href="https://stats.example.com/l/`) {
		t.Fatalf("text output:\n%s", out.String())
	}

	for _, bad := range [][]string{
		{"-site", "example.com", "-campaign", "c"},                                            // no link
		{"-site", "example.com", "-campaign", "c", "-link", "cta"},                            // no destination
		{"-site", "example.com", "-campaign", "c", "-link", "bad label=https://example.com/"}, // label
		{"-site", "example.com", "-campaign", "c", "-link", "cta=javascript:alert(1)"},        // destination
		{"-site", "example.com", "-campaign", "c", "-link", "cta=//evil.example/"},
		{"-site", "example.com", "-campaign", "bad id", "-link", "cta=https://example.com/"},
		{"-site", "unknown.example", "-campaign", "c", "-link", "cta=https://example.com/"},
		{"-site", "nomail.example", "-campaign", "c", "-link", "cta=https://example.com/"},
		{"-site", "example.com", "-campaign", "c", "-key", "k9", "-link", "cta=https://example.com/"},
	} {
		full := append([]string{"sign-link", "-sites-file", path}, bad...)
		if err := run(full, func(string) string { return "" }, &out, &errs); err == nil {
			t.Errorf("sign-link %v succeeded", bad)
		}
	}
}
