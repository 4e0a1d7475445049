// Package sites holds the declared sites: which domains the collector counts
// for, their hostnames, consent mode, time zone, small-count threshold (k),
// email signing secret and dashboard API tokens. Hits for a site that is
// not declared are refused, so nobody can fill the database with counters
// for domains the operator never configured.
//
// It is a shared leaf: the collector reads it to accept hits, the
// dashboards to answer queries, and it imports nothing of this module.
package sites
