package referrer

import (
	"errors"
	"strings"
	"testing"
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
	f := func(page, ref, want string) {
		t.Helper()
		p, err := ParsePage(page)
		if err != nil {
			t.Fatal(err)
		}
		if got := Source(p, ref, own); got != want {
			t.Errorf("Source(%q, %q) = %q, want %q", page, ref, got, want)
		}
	}
	f("https://example.com/", "", "")
	f("https://example.com/", "https://www.google.com/search?q=x", "Google")
	f("https://example.com/", "https://www.google.co.uk/", "Google")
	f("https://example.com/", "https://google.evil.com/", "google.evil.com")
	f("https://example.com/", "https://l.facebook.com/l.php?u=x", "Facebook")
	f("https://example.com/", "https://t.co/abc", "Twitter")
	f("https://example.com/", "https://news.ycombinator.com/item?id=1", "Hacker News")
	f("https://example.com/", "https://www.blog.example.org/post", "blog.example.org")
	f("https://example.com/", "https://www.example.com/other", "") // internal navigation
	f("https://example.com/", "android-app://com.google.android.gm/", "")
	f("https://example.com/", "not a url", "")
	f("https://example.com/?utm_source=newsletter", "https://www.google.com/", "newsletter")
	f("https://example.com/?ref=producthunt&utm_source=x", "https://www.google.com/", "producthunt")
}
