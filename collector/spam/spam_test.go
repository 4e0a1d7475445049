package spam

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedList(t *testing.T) {
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := l.Len(); n < 279 {
		t.Fatalf("embedded list has %d hosts, want the 279 of express-spam-referral-blocker 1.2.1", n)
	}
	f := func(ref string, want bool) {
		t.Helper()
		if got := l.Referrer(ref); got != want {
			t.Errorf("Referrer(%q) = %v, want %v", ref, got, want)
		}
	}
	f("http://100dollars-seo.com/", true)
	f("https://www.100dollars-seo.com/offer?x=1", true) // a subdomain
	f("HTTPS://WWW.100DOLLARS-SEO.COM", true)
	f("http://100dollars-seo.com.:8080/x", true)
	f("https://user@0n-line.tv/", true)
	f("https://xn--90afbdbdafvf6a0f.xn--p1ai/", false) // not listed
	f("https://xn--80adgcaax6acohn6r.xn--p1ai/", true) // непереводимая.рф, as browsers send it
	f("https://not100dollars-seo.com/", false)         // not a subdomain
	f("https://www.google.com/", false)
	f("https://[2001:db8::1]/", false)
	f("android-app://com.google.android.gm/", false)
	f("", false)
	f(strings.Repeat("a", 10000), false)
	f("\x00\xff", false)
}

func TestBadFileKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "spammers.txt")
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# operator additions\nspam.example\n")
	l, err := New(Options{Files: []string{p}, NoDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Host("a.spam.example") {
		t.Fatal("operator host not loaded")
	}
	for _, bad := range []string{"good.example\nnot a host\n", "nodot\n", "a/b.example\n", "\xff\xfe.example\n", strings.Repeat("x", 70000) + ".example\n"} {
		write(bad)
		err := l.Reload()
		if err == nil {
			t.Fatalf("Reload accepted %q", bad)
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line ") {
			t.Errorf("error %q does not name the file and line", err)
		}
		if !l.Host("spam.example") {
			t.Fatalf("failed reload (%q) dropped the previous list", bad)
		}
	}
	if _, err := New(Options{Files: []string{filepath.Join(dir, "missing")}}); err == nil {
		t.Error("New accepted a missing file")
	}
}

func BenchmarkReferrer(b *testing.B) {
	l, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	refs := []string{"https://www.google.com/search?q=x", "https://news.ycombinator.com/item?id=1", "http://100dollars-seo.com/"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Referrer(refs[i%len(refs)])
		i++
	}
}
