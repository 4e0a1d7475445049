package dashboards_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDashboardsImportNoCounting keeps the arrow one way: the dashboards
// read ClickHouse and share only the leaves (sites, counter) with the side
// that counts, never the collector or the aggregator.
func TestDashboardsImportNoCounting(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "tally/dashboards/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list gave %d packages: the check proves nothing", len(deps))
	}
	for _, p := range deps {
		for _, banned := range []string{"tally/collector", "tally/aggregator"} {
			if p == banned || strings.HasPrefix(p, banned+"/") {
				t.Errorf("the dashboards depend on %s", p)
			}
		}
	}
}
