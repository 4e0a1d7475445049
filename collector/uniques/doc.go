// Package uniques recognises a returning visitor within one UTC day, and a
// repeated email open within a campaign's counting window, without storing
// any identifier.
//
// Visitors: a visitor is HMAC-SHA256(daily salt, site, ip, user agent),
// truncated to 64 bits and held only in memory. The salt is random, made
// when the day starts and overwritten when it ends, together with every key
// derived from it, so yesterday's visitors cannot be recognised by anyone,
// this process included. Only the two SHA-256 states that HMAC derives from
// the salt are kept (the salt itself is overwritten at once); starting
// each MAC from them is what makes a hit free of allocations.
//
// Memory: each (visitor, dimension, value) pair is a 64-bit seeded hash in
// an open-addressing table (linear probing, grown by half at 80% load), 10
// to 15 bytes a pair; 12 measured at a million pairs (TestBytesPerPair),
// against 24 to 38 for a Go map. The table is split in 64 shards with a
// lock each. Len and Bytes are single atomic loads, cheap enough for the
// pipeline's memory bound to check on every hit.
//
// Shares: the pairs of each site are counted apart (SiteLen), and
// VisitorUnder refuses a key to a site at its limit before computing it,
// so that the collector can hold every site to its own share of the
// memory; opens are kept in one table per site for the same reason
// (FirstOpenUnder).
//
// Email opens: a recipient token is reduced to HMAC-SHA256(process key,
// site, campaign, token) in memory and forgotten when the counting window
// ends.
//
// Email clicks (Clicks) are remembered the same way, per campaign and per
// link, each with its own key. A click held for the scanner check keeps
// its keys (Opens.Key, Clicks.Keys), never the token, and a Group hash
// under a third key ties one recipient's clicks together for seconds.
//
// Restarts: a graceful restart on the same UTC day keeps the day's
// visitors, remembered opens and clicks, through one file in the spool
// directory written at shutdown and deleted at the next start
// (handover.go; TestHandoverKeepsTheDay, and cmd/collector's
// TestRestartKeepsTheDay with SIGTERM). A crash, or a start on another
// day, loses them: a visitor, opener or clicker seen before counts again.
package uniques
