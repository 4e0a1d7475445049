// Package dashboards serves what marketers read: the server-rendered web
// dashboard (sign-in, one page per site, email campaigns, CSV downloads,
// revocable read-only share links) and the JSON stats API with per-site
// bearer tokens, over the aggregate tables in ClickHouse. It mounts its
// routes on the collector's Fiber app and owns no app of its own; the
// queries live in dashboards/stats.
package dashboards
