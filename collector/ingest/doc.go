// Package ingest is the collector's pipeline: it takes one validated hit,
// runs the steps in the order the privacy promise requires (consent first,
// then bot filtering, region, uniques) and hands aggregate deltas to the
// aggregator. The client address and user agent stop here: nothing that
// leaves this package carries them.
//
// One file per role: pipeline.go wires the steps (Options, New, Client,
// Outcome); web.go is the page-view and custom-event path; email.go the
// email open and sent-report path; click.go the email click path and
// burst.go the clicks it holds for a few seconds to tell scanners from
// people; bounds.go the memory bounds that shed hits; webmail.go the cache
// of webmail client names.
package ingest
