// Package stats answers the dashboards' questions from the aggregate tables
// alone: totals with the previous period, time series, breakdowns by one
// dimension with small-count folding, and email campaigns. Every query
// filters on the tables' ORDER BY prefix (site, dimension, hour) or
// (site, campaign, dimension) and sums, because SummingMergeTree rows are only
// summed on merge. It knows nothing of HTTP.
package stats
