// Package grafana holds the Grafana provisioning for docker-compose users:
// the ClickHouse data source, a dashboard (provisioning/ and dashboards/
// are mounted into the Grafana container) and the views it reads. Grafana
// connects as a read-only ClickHouse user that is granted these views and
// nothing else, and each view applies the site's k (views.go), so no panel
// and no hand-written query in Grafana can read a count below k. Prepare
// creates the views; the dashboard's SQL is tested against them.
package grafana

import _ "embed"

// Dashboard is the provisioned dashboard JSON.
//
//go:embed dashboards/tally.json
var Dashboard []byte
