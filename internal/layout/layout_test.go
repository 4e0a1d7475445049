package layout

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// rule forbids the packages matching pkg to depend on anything forbidden
// reports; why is the failure message.
type rule struct {
	pkg       func(string) bool
	forbidden func(dep string) bool
	why       string
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(p string) bool {
		for _, f := range fs {
			if f(p) {
				return true
			}
		}
		return false
	}
}

var httpFramework = anyOf(under("github.com/gofiber/fiber"), under("github.com/valyala/fasthttp"))

// deps lists each package matching patterns with its transitive
// dependencies (tests excluded), as go list sees them.
func deps(t *testing.T, patterns ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}"}, patterns...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	m := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			m[fields[0]] = fields[1:]
		}
	}
	return m
}

// violations applies r to every listed package.
func violations(all map[string][]string, r rule) (found []string, checked int) {
	for pkg, ds := range all {
		if !r.pkg(pkg) {
			continue
		}
		checked++
		for _, d := range ds {
			if r.forbidden(d) {
				found = append(found, pkg+" -> "+d)
			}
		}
	}
	return found, checked
}

func TestEveryArrowPointsDown(t *testing.T) {
	all := deps(t, "tally/pixel/...", "tally/dashboards/...", "tally/collector")
	for _, r := range []rule{
		{under("tally/pixel"), anyOf(under("tally"), httpFramework),
			"pixel is a leaf: an email system imports it to sign URLs, and must get neither this module nor an HTTP framework"},
		{under("tally/dashboards"), anyOf(under("tally/collector"), under("tally/aggregator")),
			"the dashboards read what the collector wrote through the shared leaves (sites, counter), never the collector or the aggregator"},
	} {
		found, checked := violations(all, r)
		if checked == 0 {
			t.Fatalf("no package matched the rule %q: the check would prove nothing", r.why)
		}
		for _, v := range found {
			t.Errorf("%s: %s", v, r.why)
		}
	}
	// The same check finds the arrows that do exist, so the passes above
	// are not a listing that came back empty.
	if found, _ := violations(all, rule{under("tally/collector"), httpFramework, ""}); len(found) == 0 {
		t.Fatal("the collector shows no HTTP framework among its dependencies: the listing is wrong")
	}
	if found, _ := violations(all, rule{under("tally/dashboards"), under("tally/sites"), ""}); len(found) == 0 {
		t.Fatal("the dashboards show no dependency on sites: the listing is wrong")
	}
}
