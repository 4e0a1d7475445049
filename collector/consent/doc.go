// Package consent decides, before anything else happens to a hit, what may be
// recorded about it. It is a pure function of the request's consent signals
// and the site's configured mode, so the whole decision table is testable
// without a server.
package consent
