// Package uniques recognises a returning visitor within one UTC day, and a
// repeated email open within a campaign's counting window, without storing
// any identifier.
//
// Visitors: a visitor is HMAC-SHA256(daily salt, site, ip, user agent),
// truncated to 64 bits and held only in memory. The salt is random, made
// when the day starts and overwritten when it ends, together with every key
// derived from it, so yesterday's visitors cannot be recognised by anyone,
// this process included.
//
// Email opens: a recipient token is reduced to HMAC-SHA256(process key,
// site, campaign, token) in memory and forgotten when the counting window
// ends. Restarting the collector forgets every open, so a reopen after a
// restart counts as a new unique open: the price of storing nothing.
package uniques
