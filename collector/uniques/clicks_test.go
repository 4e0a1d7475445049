package uniques

import (
	"testing"
	"time"
)

func TestFirstClick(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := NewClicks(time.Hour, func() time.Time { return now })
	f := func(label, token string, wantCampaign, wantLink bool) {
		t.Helper()
		if gc, gl := c.FirstClick("example.com", "spring", label, token); gc != wantCampaign || gl != wantLink {
			t.Fatalf("FirstClick(%s, %s) = %v, %v; want %v, %v", label, token, gc, gl, wantCampaign, wantLink)
		}
	}
	f("cta", "r1", true, true)
	f("cta", "r1", false, false)
	f("logo", "r1", false, true) // another link of the same recipient
	f("cta", "r2", true, true)
	f("cta", "", false, false) // no token: never unique
	if c.Len() != 5 {
		t.Fatalf("Len = %d, want 5 keys (2 campaign, 3 link)", c.Len())
	}
	now = now.Add(2 * time.Hour) // the window has passed
	f("cta", "r1", true, true)

	// Clicks and opens do not share keys: an open is not a click.
	o := NewOpens(time.Hour, func() time.Time { return now })
	if !o.FirstOpen("example.com", "spring", "r9") || o.FirstOpen("example.com", "spring", "r9") {
		t.Fatal("opens")
	}
	f("cta", "r9", true, true)
}

func TestClickGroup(t *testing.T) {
	c := NewClicks(0, nil)
	a := c.Group("example.com", "spring", "r1")
	if a == 0 || a != c.Group("example.com", "spring", "r1") {
		t.Fatal("a recipient's group is not stable")
	}
	for _, other := range []uint64{c.Group("example.com", "spring", "r2"), c.Group("example.com", "autumn", "r1"),
		c.Group("example.org", "spring", "r1"), NewClicks(0, nil).Group("example.com", "spring", "r1")} {
		if other == a {
			t.Fatal("two recipients, campaigns, sites or processes share a group")
		}
	}
	if c.Group("example.com", "spring", "") != 0 {
		t.Fatal("an empty token has a group")
	}
}
