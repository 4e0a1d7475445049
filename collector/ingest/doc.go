// Package ingest is the collector's pipeline: it takes one validated hit,
// runs the steps in the order the privacy promise requires (consent first,
// then bot filtering, region, uniques) and hands aggregate deltas to the
// aggregator. The client address and user agent stop here: nothing that
// leaves this package carries them.
//
// Bot filtering runs only on hits whose consent allows counters, so that a
// strict-mode hit without consent records its consent state and nothing
// else, bot or not. Its layers, first match wins (filterReason in web.go):
// the agent's (collector/useragent), the tracker's navigator.webdriver
// report, data-centre addresses (collector/netclass), referrer spam
// (collector/spam), the request's shape (useragent.Shape), prefetches. A
// page view that passes is also counted under its channel
// (collector/channel).
//
// One file per role: pipeline.go wires the steps (Options, New, Client,
// Outcome); web.go is the page-view and custom-event path; dims.go the
// dimension rows of a page view; visits.go what a page view adds to the
// visit counters (the rules are collector/visits'); engagement.go the
// engagement-report path (time on page, scroll depth, our tracker's
// corrections); email.go the email open and sent-report path; click.go the
// email click path and burst.go the clicks it holds for a few seconds to
// tell scanners from people; bounds.go the memory bounds that shed hits;
// webmail.go the cache of webmail client names; conversions.go the rows of
// a hit on a site with goals, props or funnels (prop, goal, goal_prop,
// revenue, uniques), props.go the check and reading of an event's custom
// properties (nothing but the allow-listed names is read), revenue.go the
// check of its revenue.
//
// A site without goals, funnels or props costs one atomic load per hit
// (TestFivePropsCostOneAllocation: a page view allocates nothing; an event
// with five kept props allocates once, its rows' values in one string).
package ingest
