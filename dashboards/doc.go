// Package dashboards serves what marketers read: the web dashboard and the
// JSON stats API over the aggregate tables in ClickHouse.
package dashboards
