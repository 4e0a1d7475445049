package ingest

import (
	"sync"
	"time"

	"tally/collector/geo"
	"tally/collector/uniques"
	"tally/counter"
	"tally/sites"
)

// heldClick is a click that looked human, waiting out the burst window:
// everything its counters need, looked up during its request (the region
// from the address, the client from the agent) and nothing of the request
// itself. The recipient is there only as keyed hashes (uniques), which is
// how the uniques memory holds it for the whole counting window anyway.
type heldClick struct {
	site                    *sites.Site
	campaign, label, target string // owned: counter rows keep them
	hour                    int64
	client                  string
	region                  geo.Region
	keys                    uniques.ClickKeys
	open                    uint64 // the recipient's open key, for the implied open
}

// burst holds a recipient's clicks for a few seconds to tell a scanner,
// which follows the links of a message together at delivery, from a
// person, who follows one or two, minutes apart. A group is one recipient
// of one campaign (uniques.Clicks.Group). It turns machine when, within
// the window from its first click, three different links of the message
// are followed for the recipient (both, in a message of two), machine
// requests (HEAD, prefetch, a scanner's agent) included, or when its
// honeypot is followed. A single machine request does not turn a group:
// a time-of-click checker (Safe Links) fetches the link a person is
// following in the same second, and that person clicked. When the window
// ends the group's clicks are committed, as a person's or a machine's.
// Safe for concurrent use.
type burst struct {
	window time.Duration
	commit func(items []heldClick, class string) // class "": a person's
	// maxGroups bounds the groups (each with a timer): machine requests
	// start groups too, and are not shed.
	maxGroups int
	afterFunc func(time.Duration, func()) stopper

	mu     sync.Mutex
	groups map[uint64]*group
	held   int // clicks held, for the memory bound
	closed bool
}

// stopper is a stoppable timer (time.Timer); tests may bring their own.
type stopper interface{ Stop() bool }

type group struct {
	items  []heldClick
	labels []string // distinct links followed, machine requests included
	links  int      // the message's link count, when signed (0: not told)
	class  string   // the machine class once decided; "" while it looks human
	timer  stopper
}

func newBurst(window time.Duration, maxGroups int, commit func([]heldClick, string)) *burst {
	return &burst{window: window, commit: commit, maxGroups: maxGroups, groups: map[uint64]*group{},
		afterFunc: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }}
}

// burstLinks is how many different links of one message, followed within
// the window, make a burst: three, or both of a message of two.
func burstLinks(links int) int {
	if links == 2 {
		return 2
	}
	return 3
}

// group returns key's group, starting it (and its timer) when there is
// none. Called with mu held.
func (b *burst) group(key uint64, links int) *group {
	g := b.groups[key]
	if g == nil {
		g = &group{links: links}
		b.groups[key] = g
		g.timer = b.afterFunc(b.window, func() { b.fire(key, g) })
	}
	if links > g.links {
		g.links = links
	}
	return g
}

// seen records that label was followed in g, and turns g into a burst
// when enough different links were. Called with mu held.
func (g *group) seen(label string) {
	for _, l := range g.labels {
		if l == label {
			return
		}
	}
	g.labels = append(g.labels, label)
	if g.class == "" && (g.links != 1 && len(g.labels) >= burstLinks(g.links)) {
		g.class = counter.MachineBurst
	}
}

// hold keeps a human-looking click in its recipient's group; false when
// the holder is closed (the caller commits it at once).
func (b *burst) hold(key uint64, links int, c heldClick) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	g := b.group(key, links)
	g.items = append(g.items, c)
	b.held++
	g.seen(c.label)
	return true
}

// machine records a machine request for the recipient (counted as the
// machine's by the caller): its link counts towards a burst, and after
// the honeypot the group's clicks, held now or coming within its window,
// are the honeypot's.
func (b *burst) machine(key uint64, links int, label, class string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.groups[key] == nil && len(b.groups) >= b.maxGroups {
		return // counted all the same; only the burst check is skipped
	}
	g := b.group(key, links)
	if class == counter.MachineHoneypot {
		g.class = counter.MachineHoneypot
		return // the honeypot is not one of the message's links
	}
	g.seen(label)
}

// fire commits a group when its window ends.
func (b *burst) fire(key uint64, g *group) {
	b.mu.Lock()
	if b.groups[key] != g { // committed by close
		b.mu.Unlock()
		return
	}
	delete(b.groups, key)
	b.held -= len(g.items)
	items, class := g.items, g.class
	b.mu.Unlock()
	if len(items) > 0 {
		b.commit(items, class)
	}
}

// len is the number of clicks held, or of groups where more: what the
// memory bound compares.
func (b *burst) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.held, len(b.groups))
}

// close commits every group now, as decided so far, and holds nothing
// after: clicks that come later are committed at once.
func (b *burst) close() {
	b.mu.Lock()
	b.closed = true
	groups := b.groups
	b.groups = map[uint64]*group{}
	b.held = 0
	b.mu.Unlock()
	for _, g := range groups {
		g.timer.Stop()
		if len(g.items) > 0 {
			b.commit(g.items, g.class)
		}
	}
}
