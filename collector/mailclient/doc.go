// Package mailclient names the email client behind an open-pixel request
// and tells machine opens from opens by a person, by class: Apple Mail
// Privacy Protection (the bare "Mozilla/5.0" agent; Apple publishes no
// list of its proxies' addresses that a package here could ship, so the
// agent alone decides), Gmail's delivery-time prefetcher, and security
// scanners that name themselves. The Gmail and Yahoo image proxies relay
// a person's open and are named "via proxy". It looks at the user agent
// only; requests of links (HEAD, prefetch, bursts, honeypots) are judged
// by the collector's click path.
package mailclient
