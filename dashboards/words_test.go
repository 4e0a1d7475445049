package dashboards

import (
	"testing"

	"tally/collector/channel"
	"tally/collector/netclass"
	"tally/collector/spam"
	"tally/collector/useragent"
	"tally/counter"
)

// TestEveryReasonAndChannelHasWords: each value the collector stores in
// the filtered and channel dimensions reads as words on the dashboard.
func TestEveryReasonAndChannelHasWords(t *testing.T) {
	for _, r := range []string{useragent.BotNoUA, useragent.BotInvalidUA, useragent.BotAI, useragent.BotAutomation,
		useragent.BotCrawler, useragent.BotNotBrowser, useragent.BotRequestShape, netclass.Reason, spam.Reason, "prefetch"} {
		if got := valueLabel(counter.DimFiltered, r); got == r || got == "" {
			t.Errorf("filtered reason %q has no words", r)
		}
	}
	if len(filteredWords) != 10 {
		t.Errorf("%d reasons have words, want the 10 the collector stores", len(filteredWords))
	}
	for _, ch := range channel.Order {
		if got := valueLabel(counter.DimChannel, string(ch)); got == string(ch) || got == "" {
			t.Errorf("channel %q has no label", ch)
		}
	}
	if len(channelWords) != len(channel.Order) {
		t.Errorf("%d channel labels for %d channels", len(channelWords), len(channel.Order))
	}
}
