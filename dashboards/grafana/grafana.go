// Package grafana holds the Grafana provisioning for docker-compose users:
// the ClickHouse data source and a dashboard over the same aggregate tables
// (provisioning/ and dashboards/ are mounted into the Grafana container).
// The Go code only embeds the dashboard so that a test can run its SQL.
package grafana

import _ "embed"

// Dashboard is the provisioned dashboard JSON.
//
//go:embed dashboards/tally.json
var Dashboard []byte
