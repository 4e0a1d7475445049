// Package dashboards serves what marketers read: the server-rendered web
// dashboard (sign-in, one page per site, email campaigns, CSV downloads,
// revocable read-only share links) and the JSON stats API with per-site
// bearer tokens, over the aggregate tables in ClickHouse. It mounts its
// routes on the collector's Fiber app and owns no app of its own.
//
// Files by role: render.go (page plumbing), pages.go, api.go and csv.go
// (handlers), views.go (view models, one card and one chart builder for
// web and email), figures.go (every count a handler reads: the queries of
// dashboards/stats, then the viewer's dashboards/privacy policy: the
// admin's exact view, or the shared view of share links and API tokens).
// goals.go and goalpages.go are the conversions: the goals card (goals,
// revenue, funnels, the breakdowns under each goal), the admin's goal
// edits through goals.Registry, and their API and CSV.
// Prepare creates the noise key and the Grafana views (dashboards/grafana).
package dashboards
