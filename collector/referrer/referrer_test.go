package referrer

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"tally/scrub"
)

func TestParsePage(t *testing.T) {
	f := func(raw string, want Page) {
		t.Helper()
		got, err := ParsePage(raw)
		if err != nil {
			t.Fatalf("ParsePage(%q): %v", raw, err)
		}
		if got != want {
			t.Errorf("ParsePage(%q) = %+v, want %+v", raw, got, want)
		}
	}
	f("https://Example.com", Page{Host: "example.com", Path: "/"})
	f("https://example.com/pricing/?a=1#top", Page{Host: "example.com", Path: "/pricing"})
	f("http://example.com:8080/a%20b", Page{Host: "example.com", Path: "/a b"})
	f("https://example.com/?utm_source=News&utm_medium=email&utm_campaign=spring&id=42",
		Page{Host: "example.com", Path: "/", UTMSource: "News", UTMMedium: "email", UTMCampaign: "spring"})
	f("https://example.com/?ref=producthunt", Page{Host: "example.com", Path: "/", Ref: "producthunt"})
	f("https://example.com/%00x", Page{Host: "example.com", Path: "/_x"})
	f("https://example.com/reset/9f86d081884c7d659a2feaa0c55ad015/", Page{Host: "example.com", Path: "/reset/:id"})
	f("https://example.com/user/alice%40example.com", Page{Host: "example.com", Path: "/user/:email"})
	f("https://example.com/orders/20260512093?utm_campaign=welcome-bob@example.com&utm_medium=email",
		Page{Host: "example.com", Path: "/orders/:num", UTMMedium: "email", UTMCampaign: ":email"})
	f("https://example.com/blog/2026/05/launch?utm_campaign=newsletter-may",
		Page{Host: "example.com", Path: "/blog/2026/05/launch", UTMCampaign: "newsletter-may"})
	long, _ := ParsePage("https://example.com/" + strings.Repeat("é", 400))
	if len(long.Path) > MaxPathLen || !strings.HasPrefix(long.Path, "/é") {
		t.Errorf("long path not cut on a rune boundary: %d bytes", len(long.Path))
	}

	bad := func(raw string, want error) {
		t.Helper()
		if _, err := ParsePage(raw); !errors.Is(err, want) {
			t.Errorf("ParsePage(%q) error = %v, want %v", raw, err, want)
		}
	}
	bad("ftp://example.com/", ErrBadURL)
	bad("javascript:alert(1)", ErrBadURL)
	bad("/relative", ErrBadURL)
	bad("https://", ErrBadURL)
	bad("https://exa mple.com/", ErrBadURL)
	bad("https://example.com/"+strings.Repeat("a", MaxURLLen), ErrURLTooLong)
}

func TestSource(t *testing.T) {
	own := func(h string) bool { return h == "example.com" || h == "www.example.com" }
	var sources Sources
	f := func(page, ref, want string) {
		t.Helper()
		p, err := ParsePage(page)
		if err != nil {
			t.Fatal(err)
		}
		if got := sources.Source(p, ref, own); got != want {
			t.Errorf("Source(%q, %q) = %q, want %q", page, ref, got, want)
		}
	}
	f("https://example.com/", "", "")
	f("https://example.com/", "https://www.google.com/search?q=x", "Google")
	f("https://example.com/", "https://www.google.co.uk/", "Google")
	f("https://example.com/", "https://google.evil.com/", "evil.com")
	f("https://example.com/", "https://l.facebook.com/l.php?u=x", "Facebook")
	f("https://example.com/", "https://t.co/abc", "Twitter")
	f("https://example.com/", "https://news.ycombinator.com/item?id=1", "Hacker News")
	// AI assistants, before the brand of the domain they live under.
	f("https://example.com/", "https://gemini.google.com/app", "Gemini")
	f("https://example.com/", "https://bard.google.com/", "Gemini")
	f("https://example.com/", "https://notebooklm.google.com/", "NotebookLM")
	f("https://example.com/", "https://copilot.microsoft.com/", "Copilot")
	f("https://example.com/", "https://chatgpt.com/", "ChatGPT")
	f("https://example.com/", "https://chat.openai.com/c/1", "ChatGPT")
	f("https://example.com/", "https://www.perplexity.ai/search/x", "Perplexity")
	f("https://example.com/", "https://claude.ai/chat/1", "Claude")
	f("https://example.com/", "https://mail.google.com/mail/u/0/", "Gmail") // not Google search
	f("https://example.com/", "https://scholar.google.com/", "Google")
	f("https://example.com/", "https://www.blog.example.org/post", "example.org")
	f("https://example.com/", "https://news.example.co.uk/", "example.co.uk")
	// Never kept as they are: addresses, private hosts, personal subdomains.
	f("https://example.com/", "http://10.20.30.40/admin", ":ip")
	f("https://example.com/", "http://10.20.30.40:8080/", ":ip")
	f("https://example.com/", "http://[2001:db8::beef]/", ":ip")
	f("https://example.com/", "http://[::1]:3000/", ":ip")
	f("https://example.com/", "http://167772160/", ":ip")
	f("https://example.com/", "http://localhost:3000/", ":local")
	f("https://example.com/", "http://intranet/wiki", ":local")
	f("https://example.com/", "http://wiki.corp/", ":local")
	f("https://example.com/", "http://nas.local/", ":local")
	f("https://example.com/", "http://router.home.arpa/", ":local")
	f("https://example.com/", "http://build.internal/", ":local")
	f("https://example.com/", "https://alice-smith.substack.com/p/post", "substack.com")
	f("https://example.com/", "https://alice.github.io/blog/", "github.io")
	f("https://example.com/", "https://bob.blogspot.com/", "blogspot.com")
	f("https://example.com/", "https://bob.blogspot.co.uk/", "blogspot.co.uk")
	f("https://example.com/", "https://carol.wordpress.com/", "wordpress.com")
	f("https://example.com/", "https://dave.medium.com/", "medium.com")
	f("https://example.com/", "https://erin.netlify.app/", "netlify.app")
	f("https://example.com/", "https://ec2-1-2-3-4.us-west-2.compute.amazonaws.com/", "amazonaws.com")
	f("https://example.com/", "https://github.com/tally", "GitHub")
	f("https://example.com/", "https://9f86d081884c7d659a2feaa0c55ad015.example.org/", "example.org")
	f("https://example.com/", "https://9f86d081884c7d659a2feaa0c55ad015.com/", ":id")
	f("https://example.com/", "https://www.example.com/other", "") // internal navigation
	f("https://example.com/", "android-app://com.google.android.gm/", "")
	f("https://example.com/", "not a url", "")
	f("https://example.com/?utm_source=newsletter", "https://www.google.com/", "newsletter")
	f("https://example.com/?ref=producthunt&utm_source=x", "https://www.google.com/", "producthunt")
	// Tags are scrubbed too.
	f("https://example.com/?ref=alice@example.com", "", ":email")
	f("https://example.com/?ref=alice%40example.com", "", ":email")
	f("https://example.com/?utm_source=https://alice.github.io/x", "", "github.io")
	f("https://example.com/?utm_source=http%3A%2F%2F10.0.0.1%2F", "", ":ip")
	f("https://example.com/?source=9f86d081884c7d659a2feaa0c55ad015", "", ":id")
}

// tricky URLs where a hand-written split could part from net/url.
var tricky = []string{
	"https://example.com", "https://example.com/", "http://example.com:8080/a", "https://example.com:/a",
	"https://example.com:80:90/", "https://example.com:8o/", "https://EXAMPLE.com/", "HTTPS://example.com/",
	"https://user:pw@example.com/", "https://@example.com/", "https://[::1]/", "https://[::1]:80/a",
	"https://192.0.2.1/", "https://exa_mple.com/", "https://xn--bcher-kva.example/", "https://bücher.example/",
	"https://example.com/a%20b", "https://example.com/a%zzb", "https://example.com/%", "https://example.com/a b",
	"https://example.com/#frag", "https://example.com/#%zz", "https://example.com/#%41", "https://example.com/?q#f?g",
	"https://example.com?utm_source=x", "https://example.com#?utm_source=x", "https:///path", "https://",
	"https:example.com", "https:/example.com/", "https://example.com/\x00", "https://example.com/\x7f",
	" https://example.com/ ", "https://example.com/a//b//", "https://example.com/é", "https://example.com/\xff",
	"https://example.com/?utm_source=a&utm_source=b", "https://example.com/?utm_source=%zz&utm_source=b",
	"https://example.com/?utm_source=a;b&utm_source=c", "https://example.com/?utm%5Fsource=x",
	"https://example.com/?utm_source=a+b%20c", "https://example.com/?utm_source", "https://example.com/?utm_source=",
	"https://example.com/?ref=&source=hn", "https://example.com/?ref=%20&source=hn", "https://example.com/?&&=&ref=x",
	"https://example.com/?ref=x=y", "https://example.com/?source=" + strings.Repeat("s", 200),
	"https://example.com/?utm_campaign=%00x", "ftp://example.com/", "javascript:alert(1)", "//example.com/",
	"https://a.b.c.d.example.co.uk:443/x/y/z?utm_medium=email#top",
}

func TestParsePageAgreesWithNetURL(t *testing.T) {
	for _, raw := range tricky {
		got, gotErr := ParsePage(raw)
		want, wantErr := parsePageNetURL(strings.TrimSpace(raw))
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("ParsePage(%q) = %+v, %v; net/url gives %+v, %v", raw, got, gotErr, want, wantErr)
		}
		if h, want := referrerHost(raw), referrerHostNetURL(strings.TrimSpace(raw)); h != want {
			t.Errorf("referrerHost(%q) = %q; net/url gives %q", raw, h, want)
		}
	}
}

func TestParsePageAndSourceDoNotAllocate(t *testing.T) {
	own := func(h string) bool { return h == "example.com" }
	page := "https://example.com/blog/post?utm_source=newsletter&utm_medium=email&utm_campaign=spring&id=7#top"
	ref := "https://www.google.de/search?q=x"
	p, _ := ParsePage(page)
	var sources Sources
	sources.Source(Page{}, ref, own) // fills the source cache
	if n := testing.AllocsPerRun(100, func() {
		p, _ = ParsePage(page)
		sources.Source(Page{}, ref, own)
	}); n != 0 {
		t.Fatalf("ParsePage + Source allocate %.1f times for a plain URL", n)
	}
	if p.UTMCampaign != "spring" || p.Path != "/blog/post" {
		t.Fatalf("parsed %+v", p)
	}
}

// FuzzParsePage checks ParsePage and the referrer host against net/url on
// any input, and the invariants of what is kept: a lower-case host, a path
// that starts with "/" and fits its bound, bounded clean tags.
func FuzzParsePage(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	var sources Sources
	f.Fuzz(func(t *testing.T, raw string) {
		got, gotErr := ParsePage(raw)
		if len(raw) <= MaxURLLen {
			want, wantErr := parsePageNetURL(strings.TrimSpace(raw))
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("ParsePage(%q) = %+v, %v; net/url gives %+v, %v", raw, got, gotErr, want, wantErr)
			}
			if h, want := referrerHost(raw), referrerHostNetURL(strings.TrimSpace(raw)); h != want {
				t.Fatalf("referrerHost(%q) = %q; net/url gives %q", raw, h, want)
			}
		}
		if gotErr != nil {
			if got != (Page{}) {
				t.Fatalf("error %v with a non-zero page %+v", gotErr, got)
			}
			return
		}
		if got.Host == "" || got.Host != strings.ToLower(got.Host) {
			t.Fatalf("host %q", got.Host)
		}
		if !strings.HasPrefix(got.Path, "/") || len(got.Path) > MaxPathLen || !utf8.ValidString(got.Path) ||
			strings.Contains(got.Path, "@") {
			t.Fatalf("path %q", got.Path)
		}
		for _, v := range []string{got.UTMSource, got.UTMMedium, got.UTMCampaign, got.Ref} {
			if len(v) > MaxValueLen || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '@' }) {
				t.Fatalf("tag %q", v)
			}
		}
		own := func(h string) bool { return h == got.Host }
		if s := sources.Source(got, raw, own); got.Ref == "" && got.UTMSource == "" && s != "" {
			t.Fatalf("a page's own URL as referrer gives source %q: internal navigation must be none", s)
		}
		// The URL as a referrer of another site: the source is a name, a
		// registrable domain or a placeholder, never an address.
		s := sources.Source(Page{}, raw, func(string) bool { return false })
		placeholder := s == scrub.IP || s == scrub.Local || s == scrub.ID || s == scrub.Num || s == scrub.Email || s == scrub.User
		if len(s) > MaxValueLen || strings.Contains(s, "@") || (!placeholder && isIPHost(s)) {
			t.Fatalf("referrer %q gives source %q", raw, s)
		}
	})
}

// BenchmarkParsePage is the page URL of a page view, clean (the common
// case: nothing to scrub) and with identifiers in the path and a tag.
func BenchmarkParsePage(b *testing.B) {
	for _, c := range []struct{ name, url string }{
		{"clean", "https://example.com/blog/2026/05/launch?utm_source=newsletter&utm_medium=email&utm_campaign=spring"},
		{"identifiers", "https://example.com/reset/9f86d081884c7d659a2feaa0c55ad015?utm_campaign=welcome-bob%40example.com"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParsePage(c.url); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestArrive: the path of a referrer of the site's own hosts, as ParsePage
// reads a page's (so that it names the same path row); nothing for other
// hosts and for what is not an http(s) URL; and the source as Source gives
// it, from the same reading.
func TestArrive(t *testing.T) {
	own := func(h string) bool { return h == "shop.example" || h == "www.shop.example" }
	var s Sources
	f := func(raw, wantPath string, wantOK bool) {
		t.Helper()
		for _, page := range []Page{{}, {UTMSource: "news"}, {Ref: "producthunt"}} {
			a := s.Arrive(page, raw, own)
			if a.Path != wantPath || a.Internal != wantOK {
				t.Errorf("Arrive(%q) = %+v; want %q, %v", raw, a, wantPath, wantOK)
			}
			if src := s.Source(page, raw, own); a.Source != src {
				t.Errorf("Arrive(%+v, %q) source %q, Source gives %q", page, raw, a.Source, src)
			}
		}
		if wantOK {
			p, err := ParsePage(raw)
			if err != nil || p.Path != wantPath {
				t.Errorf("ParsePage(%q) reads path %q (%v), Arrive %q", raw, p.Path, err, wantPath)
			}
		}
	}
	f("https://shop.example/pricing?plan=pro#top", "/pricing", true)
	f("http://www.shop.example:8080/a/b/", "/a/b", true)
	f("https://shop.example", "/", true)
	f("https://shop.example/reset/0f3c9a7e2b1d4c8e9a7b6c5d4e3f2a1b", "/reset/:id", true)
	f("https://SHOP.example/caf%C3%A9", "/café", true) // through net/url
	f("https://www.google.com/search?q=shop.example", "", false)
	f("https://www.google.com/caf%C3%A9", "", false)
	f("android-app://com.google.android.gm/", "", false)
	f("", "", false)
	f("https://shop.example/"+strings.Repeat("a", MaxURLLen), "", false)
	s.Arrive(Page{}, "https://www.google.com/", own) // the source is cached
	if n := testing.AllocsPerRun(100, func() {
		s.Arrive(Page{}, "https://shop.example/pricing?x=1", own)
		s.Arrive(Page{}, "https://www.google.com/", own)
	}); n != 0 {
		t.Errorf("%v allocations for plain referrers", n)
	}
}

func TestWithFragment(t *testing.T) {
	f := func(raw, want string) {
		t.Helper()
		p, err := ParsePage(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := WithFragment(raw, p.Path); got != want {
			t.Fatalf("WithFragment(%q) = %q, want %q", raw, got, want)
		}
	}
	f("https://x.com/#/about", "/#/about")
	f("https://x.com/app#/a/b?c=1", "/app#/a/b")
	f("https://x.com/app/#/a/b/", "/app#/a/b")
	f("https://x.com/#section", "/#section")
	f("https://x.com/docs", "/docs")
	f("https://x.com/docs#", "/docs")
	f("https://x.com/docs#?a=1", "/docs")
	f("https://x.com/#/caf%C3%A9", "/#/café")
	if got := WithFragment("https://x.com/#/bad%zz", "/"); got != "/" {
		t.Fatalf("a bad escape in the fragment gave %q", got)
	}
	// Identifiers in the fragment are scrubbed as in a path.
	f("https://x.com/#/reset/alice@example.com", "/#/reset/"+scrubbedEmail(t))
}

func scrubbedEmail(t *testing.T) string {
	t.Helper()
	p, err := ParsePage("https://x.com/alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return p.Path[1:]
}
