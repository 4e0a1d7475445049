package deploy

import (
	"encoding/xml"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// composeServices runs docker-compose config for profile and returns each
// service's block of the output, by name.
func composeServices(t *testing.T, profile string) map[string]string {
	t.Helper()
	dc, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no docker-compose on PATH")
		}
		t.Skip("no docker-compose (apt-get install docker-compose)")
	}
	cmd := exec.Command(dc, "--profile", profile, "config")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "ADMIN_PASSWORD=x")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose --profile %s config: %v\n%s", profile, err, out)
	}
	services := map[string]string{}
	var name string
	var block strings.Builder
	in := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "services:":
			in = true
			continue
		case in && line != "" && !strings.HasPrefix(line, " "):
			in = false
		}
		if !in {
			continue
		}
		if m := regexp.MustCompile(`^  ([\w-]+):$`).FindStringSubmatch(line); m != nil {
			if name != "" {
				services[name] = block.String()
			}
			name = m[1]
			block.Reset()
			continue
		}
		block.WriteString(line + "\n")
	}
	if name != "" {
		services[name] = block.String()
	}
	return services
}

func env(block, name string) string {
	m := regexp.MustCompile(`(?m)^      ` + name + `: '?([^'\n]*)'?$`).FindStringSubmatch(block)
	if m == nil {
		return ""
	}
	return m[1]
}

// remoteServers is the cluster part of cluster.xml.
type remoteServers struct {
	Clusters []struct {
		XMLName xml.Name
		Shards  []struct {
			Internal bool `xml:"internal_replication"`
			Replicas []struct {
				Host string `xml:"host"`
				Port int    `xml:"port"`
			} `xml:"replica"`
		} `xml:"shard"`
	} `xml:",any"`
}

// The cluster profile is consistent: every replica that cluster.xml names
// is a ClickHouse service of the profile, with the shard and replica
// macros of its place in the cluster (two shards of two replicas); the
// collectors run in cluster mode on that cluster, behind nginx hashing on
// the client address over exactly those collectors; the nodes coordinate
// through the Keeper service.
func TestComposeClusterProfile(t *testing.T) {
	services := composeServices(t, "cluster")
	raw, err := os.ReadFile("cluster/clickhouse/cluster.xml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Remote    remoteServers `xml:"remote_servers"`
		Zookeeper struct {
			Host string `xml:"node>host"`
		} `xml:"zookeeper"`
	}
	if err := xml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Remote.Clusters) != 1 {
		t.Fatalf("cluster.xml defines %d clusters, want 1", len(cfg.Remote.Clusters))
	}
	cl := cfg.Remote.Clusters[0]
	name := cl.XMLName.Local
	if len(cl.Shards) != 2 {
		t.Fatalf("cluster %s has %d shards, want 2", name, len(cl.Shards))
	}
	var nodes []string
	for i, sh := range cl.Shards {
		if !sh.Internal || len(sh.Replicas) != 2 {
			t.Errorf("shard %d: internal_replication %v, %d replicas; want true and 2", i+1, sh.Internal, len(sh.Replicas))
		}
		for _, r := range sh.Replicas {
			s, ok := services[r.Host]
			if !ok {
				t.Errorf("replica %s is not a service of the cluster profile", r.Host)
				continue
			}
			nodes = append(nodes, r.Host)
			if got, want := env(s, "CH_SHARD"), "0"+string(rune('1'+i)); got != want {
				t.Errorf("%s: CH_SHARD %q, want %q", r.Host, got, want)
			}
			if got := env(s, "CH_REPLICA"); got != r.Host {
				t.Errorf("%s: CH_REPLICA %q, want its own name (unique in the cluster)", r.Host, got)
			}
			if !strings.Contains(s, "cluster.xml:/etc/clickhouse-server/config.d/cluster.xml:ro") {
				t.Errorf("%s does not mount cluster.xml", r.Host)
			}
		}
	}
	if _, ok := services[cfg.Zookeeper.Host]; !ok || !strings.Contains(services[cfg.Zookeeper.Host], "clickhouse-keeper") {
		t.Errorf("the nodes' ZooKeeper %q is not the profile's ClickHouse Keeper", cfg.Zookeeper.Host)
	}

	raw, err = os.ReadFile("cluster/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	if !regexp.MustCompile(`(?m)^\s*hash \$remote_addr consistent;`).MatchString(conf) {
		t.Error("nginx.conf does not hash on the client address, consistently")
	}
	var upstreams []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server ([\w-]+):8080\b`).FindAllStringSubmatch(conf, -1) {
		upstreams = append(upstreams, m[1])
	}
	var collectors []string
	for svc, block := range services {
		if env(block, "CLICKHOUSE_CLUSTER") == "" {
			continue
		}
		collectors = append(collectors, svc)
		if got := env(block, "CLICKHOUSE_CLUSTER"); got != name {
			t.Errorf("%s: CLICKHOUSE_CLUSTER %q, want %q", svc, got, name)
		}
		url := env(block, "CLICKHOUSE_URL")
		for _, host := range regexp.MustCompile(`[@,]([\w-]+):9000`).FindAllStringSubmatch(url, -1) {
			if !slices.Contains(nodes, host[1]) {
				t.Errorf("%s connects to %s, not a node of the cluster", svc, host[1])
			}
		}
	}
	slices.Sort(collectors)
	slices.Sort(upstreams)
	if len(collectors) < 2 || !slices.Equal(collectors, upstreams) {
		t.Errorf("collectors in cluster mode %v, nginx upstreams %v: want the same, at least two", collectors, upstreams)
	}
	if lb := services["lb"]; !strings.Contains(lb, "nginx.conf:/etc/nginx/nginx.conf:ro") {
		t.Errorf("the lb service does not mount nginx.conf:\n%s", lb)
	}
}

// Every profile of docker-compose.yml is valid as Debian's docker-compose
// reads it.
func TestComposeProfiles(t *testing.T) {
	for _, p := range []string{"default", "grafana", "tls", "cluster"} {
		if len(composeServices(t, p)) == 0 {
			t.Errorf("profile %s: no services", p)
		}
	}
}
