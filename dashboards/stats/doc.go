// Package stats answers the dashboards' questions from the aggregate tables
// alone: totals with the previous period, time series, breakdowns by one
// dimension, and email campaigns. Its answers are exact; what a viewer may
// see of them (k, noise) is dashboards/privacy's. Breakdowns fold values
// below k into "(other)" here, in the same scan as the top values, because
// a breakdown of 2,000 values must stay one query; k counts a Measure
// (visitors, or hits where no visitor is recorded). Every query filters on
// the tables' ORDER BY prefix (site, dimension, hour) or (site, campaign,
// dimension) and sums, because SummingMergeTree rows are only summed on
// merge. It knows nothing of HTTP.
//
// Conversions (goals.go) reads the rows of issue 13: goals, revenue (the
// revenue column, micro-units), funnel steps and the uniques coverage in
// one scan; the breakdowns under a goal are Breakdown with a Prefix
// ("<goal>\t"), or GoalBreakdowns for every goal at once (LIMIT n BY goal).
package stats
