package channel

import (
	"strings"
	"testing"
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
