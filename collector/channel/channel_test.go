package channel

import (
	"os"
	"strings"
	"testing"

	"tally/collector/referrer"
)

func TestOf(t *testing.T) {
	f := func(source, medium string, want Channel) {
		t.Helper()
		if got := Of(source, medium); got != want {
			t.Errorf("Of(%q, %q) = %q, want %q", source, medium, got, want)
		}
	}
	f("", "", Direct)
	f("Google", "", Search)
	f("google.com", "", Search)
	f("DuckDuckGo", "", Search)
	f("search.brave.com", "", Search)
	f("Twitter", "", Social)
	f("Hacker News", "", Social)
	f("l.facebook.com", "", Social)
	f("bsky.app", "", Social)
	// AI assistants, by referrer host or by the tag ChatGPT adds.
	f("chatgpt.com", "", AI)
	f("chat.openai.com", "", AI)
	f("perplexity.ai", "", AI)
	f("www.perplexity.ai", "", AI)
	f("gemini.google.com", "", AI)
	f("copilot.microsoft.com", "", AI)
	f("claude.ai", "", AI)
	f("chatgpt.com", "cpc", AI)
	// Media decide where they are unambiguous.
	f("newsletter-42", "email", Email)
	f("chatgpt.com", "newsletter", Email)
	f("mail.google.com", "", Email)
	f("Google", "cpc", Paid)
	f("", "cpc", Paid)
	f("facebook", "paid_social", Paid)
	f("Google", "organic", Search)
	// Everything else that sent someone.
	f("example.org", "", Referral)
	f("blog.example.co.uk", "", Referral)
	f("com", "", Referral)
	f("notgoogle.com", "", Referral)
	f("google.com.evil.example", "", Referral)
	f("\xff\x00", "", Referral)
	f(strings.Repeat("a.", 5000)+"com", "", Referral)
}

func TestEveryChannelDescribed(t *testing.T) {
	seen := map[Channel]bool{}
	for _, ch := range Order {
		if Describe[ch] == "" || seen[ch] {
			t.Errorf("channel %q: no description, or listed twice in Order", ch)
		}
		seen[ch] = true
	}
	for k, ch := range sources {
		if !seen[ch] {
			t.Errorf("source %q maps to %q, which is not in Order", k, ch)
		}
		if k != strings.ToLower(k) || strings.HasPrefix(k, "www.") {
			t.Errorf("source %q must be lower case without www.", k)
		}
	}
	if !strings.Contains(Describe[AI], "chatgpt.com") {
		t.Errorf("the AI channel's description does not list its sources: %q", Describe[AI])
	}
}

// TestReferrerHostsKeepTheirChannel: a referrer reaches Of as the name
// collector/referrer gives its host ("Google", "ChatGPT", a registrable
// domain), not as the host. Every host in the table must still land in
// its channel after that step, or the table entry would never match.
func TestReferrerHostsKeepTheirChannel(t *testing.T) {
	n := 0
	for key, want := range sources {
		if !strings.Contains(key, ".") || strings.Contains(key, " ") {
			continue // a name, not a host
		}
		n++
		name := referrer.HostSource(key)
		if got := Of(name, ""); got != want {
			t.Errorf("referrer host %s is counted as source %q, channel %q; the table says %q", key, name, got, want)
		}
	}
	if n < 50 {
		t.Fatalf("checked only %d hosts", n)
	}
	// The referrers of issue 12, end to end.
	for _, ref := range []string{"https://chatgpt.com/", "https://chat.openai.com/", "https://www.perplexity.ai/search/x",
		"https://gemini.google.com/app", "https://copilot.microsoft.com/", "https://claude.ai/new", "https://notebooklm.google.com/"} {
		p, _ := referrer.ParsePage("https://example.com/")
		var s referrer.Sources
		src := s.Source(p, ref, func(string) bool { return false })
		if got := Of(src, ""); got != AI {
			t.Errorf("referrer %s: source %q, channel %q, want ai", ref, src, got)
		}
	}
}

// TestOfDoesNotAllocate: Of runs on every page view.
func TestOfDoesNotAllocate(t *testing.T) {
	for _, src := range []string{"Google", "ChatGPT", "Hacker News", "l.facebook.com", "Example.ORG", ""} {
		if n := testing.AllocsPerRun(100, func() { Of(src, "Newsletter"); Of(src, "CPC"); Of(src, "") }); n != 0 {
			t.Errorf("Of(%q) allocates %.0f times", src, n)
		}
	}
}

// TestREADMEListsChannels: the README's channel table is Describe, word
// for word, so that what operators read is what the code does.
func TestREADMEListsChannels(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range Order {
		if row := "| `" + string(ch) + "` | " + Describe[ch] + " |\n"; !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row\n%s(regenerate the table from channel.Describe)", row)
		}
	}
}

func BenchmarkOf(b *testing.B) {
	srcs := []string{"Google", "ChatGPT", "Hacker News", "example.org", ""}
	for i := 0; b.Loop(); i++ {
		Of(srcs[i%len(srcs)], "")
	}
}
