// Package collector is the HTTP face of the collector: the Fiber app, its
// middleware (recovery, access log, rate limit) and the thin handlers of
// every route that counts: the event API, the website and email pixels,
// email click links, and the campaigns' sent reports. The steps behind them are subpackages
// (ingest runs them in order).
//
// Every counting route has one shape: a count function parses the request,
// copies what it keeps out of the reused Fiber context and calls the
// pipeline once; respond (respond.go) turns what came back into the answer
// (202, 4xx JSON, 503 with Retry-After, the GIF for pixels, a redirect for
// click links) and the metric. Files: server.go (app, options,
// middleware), api.go (event and sent report), event.go (event body
// parser), pixel.go (both pixels), click.go (click links, never an open
// redirect),
// client.go (what the pipeline may know of the requester), limit.go (rate
// limit), respond.go (answers and metrics).
package collector
