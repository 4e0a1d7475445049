package uniques

import (
	"crypto/rand"
	"time"
)

// Clicks remembers which recipients clicked which campaign, and which of
// its links, as 64-bit HMACs for the counting window, like Opens. It also
// names a recipient's clicks for the scanner check (Group) with a keyed
// hash that is not the token. Safe for concurrent use.
type Clicks struct {
	campaign *Opens // first click of a recipient on a campaign
	link     *Opens // first click of a recipient on one link
	group    macKey // Group's key
}

// NewClicks makes the memory; window is how long a first click is
// remembered (DefaultOpenWindow when <= 0).
func NewClicks(window time.Duration, now func() time.Time) *Clicks {
	c := &Clicks{campaign: NewOpens(window, now), link: NewOpens(window, now)}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		panic("uniques: cannot read random key: " + err.Error())
	}
	c.group = newMACKey(key[:])
	clear(key[:])
	return c
}

// ClickKeys are the remembered forms of a recipient's click: on the
// campaign and on the link. Zero for an empty token.
type ClickKeys struct{ Campaign, Link uint64 }

// Keys makes the keys of a click, for First. A caller that decides later
// (a click held for the scanner check) keeps them, never the token.
func (c *Clicks) Keys(site, campaign, label, recipientToken string) ClickKeys {
	return ClickKeys{Campaign: c.campaign.Key(site, campaign, recipientToken), Link: c.link.keyOf(site, campaign, label, recipientToken)}
}

// First reports whether this is the recipient's first click on the
// campaign, and on this link of it, within the window, and remembers both.
// Zero keys (no token) are never first.
func (c *Clicks) First(site string, k ClickKeys) (campaignFirst, linkFirst bool) {
	return c.campaign.FirstKey(site, k.Campaign), c.link.FirstKey(site, k.Link)
}

// FirstClick is First(Keys(…)).
func (c *Clicks) FirstClick(site, campaign, label, recipientToken string) (campaignFirst, linkFirst bool) {
	return c.First(site, c.Keys(site, campaign, label, recipientToken))
}

// Group returns a keyed 64-bit hash of (site, campaign, recipient) that
// ties one recipient's clicks together for a few seconds, for the scanner
// check; 0 for an empty token.
func (c *Clicks) Group(site, campaign, recipientToken string) uint64 {
	if recipientToken == "" {
		return 0
	}
	h := start(&c.group)
	h.write(site)
	h.writeByte(0)
	h.write(campaign)
	h.writeByte(0)
	h.write(recipientToken)
	k := h.finish(&c.group)
	if k == 0 {
		k = 1
	}
	return k
}

// Len is the number of remembered first clicks (campaign and link keys).
func (c *Clicks) Len() int { return c.campaign.Len() + c.link.Len() }

// Bytes is the memory of both tables.
func (c *Clicks) Bytes() int { return c.campaign.Bytes() + c.link.Bytes() }

// Window is how long a first open is remembered.
func (o *Opens) Window() time.Duration { return time.Duration(o.window) * time.Second }
