package main

// Many collectors behind Debian's nginx with consistent hashing on the
// client address: each visitor's day state (the keyed hash of uniques)
// lives in the one collector its address hashes to, so visitor counts are
// exact end to end; killing one collector moves its visitors to the
// others, which count them again, and that cost is measured here.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tally/internal/chtest"
)

// nginxConf is the load balancer of the README's scale-out section, with
// this test's ports and directories. key is the hash key: $remote_addr
// (clients connect to nginx) or $http_x_forwarded_for (behind a CDN that
// sends one client address).
const nginxConf = `worker_processes 1;
error_log {{dir}}/error.log warn;
pid {{dir}}/nginx.pid;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path {{dir}}/body;
    proxy_temp_path {{dir}}/proxy;
    fastcgi_temp_path {{dir}}/fastcgi;
    uwsgi_temp_path {{dir}}/uwsgi;
    scgi_temp_path {{dir}}/scgi;
    upstream collectors {
        # One visitor, one collector: the day's keyed hashes of its
        # uniques live there. consistent: a collector that leaves moves
        # only its own visitors.
        hash {{key}} consistent;
{{servers}}
        keepalive 32;
    }
    server {
        listen {{listen}};
        location / {
            proxy_pass http://collectors;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # A collector that refuses the connection: the next one in
            # the ring takes the request (nothing was sent yet).
            proxy_next_upstream error timeout;
            proxy_connect_timeout 1s;
            add_header X-Upstream $upstream_addr always;
        }
    }
}
`

type balancer struct {
	cmd  *exec.Cmd
	addr string
}

func startNginx(t *testing.T, key string, upstreams []string) *balancer {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			t.Skip("nginx is not installed (scripts/test.sh installs Debian's nginx)")
		}
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // nginx's workers run as nobody
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	var servers strings.Builder
	for _, u := range upstreams {
		// max_fails=1 fail_timeout=3s: a dead collector is skipped for
		// 3 s after one refused connection, then tried again.
		fmt.Fprintf(&servers, "        server %s max_fails=1 fail_timeout=3s;\n", u)
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{key}}", key, "{{servers}}", servers.String(), "{{listen}}", addr).Replace(nginxConf)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path, "-p", dir, "-g", "daemon off;")
	out, _ := os.Create(filepath.Join(dir, "stdout.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start nginx: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return &balancer{cmd: cmd, addr: addr}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start:\n%s", log)
		}
	}
}

// visitor is one person: an address of their own.
type visitor struct {
	ip     string
	client *http.Client
	header string // the address in X-Forwarded-For, behind a CDN
}

// served is what one request met: who answered (the collector's address
// and incarnation) and when.
type served struct {
	visitor int
	up      string
	at      time.Time
	ok      bool
}

type lbRun struct {
	t        *testing.T
	lb       *balancer
	visitors []visitor
	mu       sync.Mutex
	log      []served
	// incarnation of each collector address: a restart is a new process,
	// with a new daily salt.
	gen map[string]int
}

// round sends one page view per visitor, from 8 workers, spread over
// about a second (so that a kill lands in the middle of a round).
func (r *lbRun) round(path string) {
	var wg sync.WaitGroup
	next := make(chan int)
	pace := time.Second * 8 / time.Duration(len(r.visitors))
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				v := r.visitors[i]
				// Consent granted: every hit counts its visitor, so the
				// visitor counts are exact expectations.
				body := `{"name":"pageview","url":"https://example.com` + path + `","domain":"example.com","consent":{"analytics":"granted"}}`
				req, _ := http.NewRequest(http.MethodPost, "http://"+r.lb.addr+"/api/event", strings.NewReader(body))
				req.Header.Set("User-Agent", uaFirefox)
				req.Header.Set("Accept-Language", "en") // as every browser: else filtered as request_shape
				if v.header != "" {
					req.Header.Set("X-Forwarded-For", v.header)
				}
				resp, err := v.client.Do(req)
				s := served{visitor: i, at: time.Now()}
				if err == nil {
					resp.Body.Close()
					s.ok = resp.StatusCode == http.StatusAccepted
					// "a, b" when a refused and b answered.
					ups := strings.Split(resp.Header.Get("X-Upstream"), ", ")
					s.up = ups[len(ups)-1]
				}
				r.mu.Lock()
				s.up = fmt.Sprintf("%s#%d", s.up, r.gen[s.up])
				r.log = append(r.log, s)
				r.mu.Unlock()
				time.Sleep(pace)
			}
		}()
	}
	for i := range r.visitors {
		next <- i
	}
	close(next)
	wg.Wait()
}

func TestLoadBalancerConsistentHashing(t *testing.T) {
	if testing.Short() {
		t.Skip("load balancer test skipped in -short mode")
	}
	for _, variant := range []struct{ name, key string }{
		{"client address", "$remote_addr"},
		{"behind a CDN", "$http_x_forwarded_for"},
	} {
		t.Run(variant.name, func(t *testing.T) { testBalancer(t, variant.key) })
	}
}

func testBalancer(t *testing.T, key string) {
	const visitors = 300
	url, conn := chtest.Database(t)
	db := chtest.DB(conn)
	dir := t.TempDir()
	sitesPath := filepath.Join(dir, "sites.json")
	os.WriteFile(sitesPath, []byte(`{"sites":[{"domain":"example.com"}]}`), 0o600)
	var addrs []string
	envs := map[string][]string{}
	children := map[string]*child{}
	for i := 0; i < 3; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		addrs = append(addrs, addr)
		envs[addr] = []string{
			"CLICKHOUSE_URL=" + url, "SITES_FILE=" + sitesPath,
			"SPOOL_DIR=" + filepath.Join(dir, fmt.Sprintf("spool%d", i)),
			"SYNC_INTERVAL=" + faultSync.String(), "FLUSH_INTERVAL=" + faultFlush.String(),
			"TRUSTED_PROXIES=127.0.0.1/32", "DEV=true", "LOG_LEVEL=info", "RATE_LIMIT=-1",
			"METRICS_ADDR=-", "METRICS_TOKEN=" + testMetricsToken,
		}
		children[addr] = startChild(t, envs[addr], addr, filepath.Join(dir, fmt.Sprintf("collector%d.log", i)))
	}
	t.Cleanup(func() {
		for _, c := range children {
			if c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
		}
	})
	r := &lbRun{t: t, lb: startNginx(t, key, addrs), gen: map[string]int{}}
	for i := 0; i < visitors; i++ {
		v := visitor{}
		if key == "$remote_addr" {
			// Each visitor connects from an address of its own: all of
			// 127.0.0.0/8 is this machine's.
			v.ip = fmt.Sprintf("127.1.%d.%d", i/250, i%250+1)
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(v.ip)}, Timeout: 2 * time.Second}
			v.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
		} else {
			// The CDN connects from one address and names the visitor.
			v.header = fmt.Sprintf("100.64.%d.%d", i/250, i%250+1)
			v.client = &http.Client{Timeout: 5 * time.Second}
		}
		r.visitors = append(r.visitors, v)
	}

	start := time.Now()
	r.round("/a")
	r.round("/b")
	// Every visitor met one collector, and every collector had visitors.
	first := map[int]string{}
	share := map[string]int{}
	for _, s := range r.log {
		if prev, ok := first[s.visitor]; ok && prev != s.up {
			t.Fatalf("visitor %d went to %s and %s: the hash is not sticky", s.visitor, prev, s.up)
		}
		if _, ok := first[s.visitor]; !ok {
			first[s.visitor] = s.up
			share[s.up]++
		}
	}
	if len(share) != 3 {
		t.Fatalf("visitors per collector %v: want all three used", share)
	}

	// Exact end to end before any fault: every page view once, every
	// visitor once, though three processes counted them.
	totals := func() (pv, vis int64) {
		if err := conn.QueryRow(context.Background(), "SELECT sum(pageviews), sum(visitors) FROM "+db+
			".web_counters WHERE site = 'example.com' AND dimension = 'total'").Scan(&pv, &vis); err != nil {
			t.Fatal(err)
		}
		return pv, vis
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		pv, vis := totals()
		if pv == 2*visitors {
			if vis != visitors {
				t.Fatalf("%d page views of %d visitors stored as %d visitors: a visitor was counted by two collectors", pv, visitors, vis)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d page views stored after two rounds of %d visitors, want %d", pv, visitors, 2*visitors)
		}
	}

	// One collector killed -9 half way through a round, then restarted
	// on its spool.
	victim := addrs[1]
	var killedAt time.Time
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(500 * time.Millisecond)
		killedAt = time.Now()
		c := children[victim]
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
	}()
	r.round("/c")
	wg.Wait()
	r.round("/d")
	children[victim] = startChild(t, envs[victim], victim, filepath.Join(dir, "collector1.log"))
	r.mu.Lock()
	r.gen[victim]++
	r.mu.Unlock()
	time.Sleep(3500 * time.Millisecond) // nginx's fail_timeout: it tries the victim again
	r.round("/e")
	for _, c := range children {
		c.cmd.Process.Signal(syscall.SIGTERM)
		c.cmd.Wait()
	}
	took := time.Since(start)
	perRound := map[string]int{}
	for i, s := range r.log {
		perRound[fmt.Sprintf("%c %s", "abcde"[i/visitors], s.up)]++
	}
	t.Logf("requests per round and collector process: %v", perRound)

	// What was acknowledged, by whom; what each visitor should count:
	// one per collector process that served it.
	var acked, failed, atRisk int
	seen := map[int]map[string]bool{}
	for _, s := range r.log {
		if !s.ok {
			failed++
			continue
		}
		acked++
		if seen[s.visitor] == nil {
			seen[s.visitor] = map[string]bool{}
		}
		seen[s.visitor][s.up] = true
		if strings.HasPrefix(s.up, victim+"#0") && !s.at.Before(killedAt.Add(-faultSync-100*time.Millisecond)) && !s.at.After(killedAt) {
			atRisk++
		}
	}
	want := 0
	for _, ups := range seen {
		want += len(ups)
	}
	pv, vis := totals()
	extra := vis - visitors
	t.Logf("LB %s: %d visitors, %d per collector %v; acknowledged %d, failed %d, stored %d page views (at risk: %d acknowledged by the victim in the %v before its kill); visitors stored %d, predicted %d (one per process met), %d over the true %d (%.1f%%, the victim held %.1f%% of visitors); %v",
		key, visitors, share[victim+"#0"], share, acked, failed, pv, atRisk, faultSync+100*time.Millisecond, vis, want, extra, visitors,
		100*float64(extra)/visitors, 100*float64(share[victim+"#0"])/visitors, took.Round(100*time.Millisecond))
	// A request the victim had read when it died gets a 502 (nginx does
	// not resend a POST that reached a collector); every later one is
	// passed to the next collector. So at most the requests in flight
	// (one per worker) fail.
	if failed > 8 {
		t.Errorf("%d requests failed: at most the 8 in flight at the kill may; nginx must pass a refused request to the next collector", failed)
	}
	if pv > int64(acked) || int64(acked)-pv > int64(atRisk) {
		t.Fatalf("stored %d page views of %d acknowledged: at most the %d acknowledged in the victim's unsynced window may be lost, none counted twice", pv, acked, atRisk)
	}
	if int64(acked) == pv && vis != int64(want) {
		t.Fatalf("stored %d visitors, want %d: one per (visitor, collector process)", vis, want)
	}
	// The bound: a visitor is counted at most three times (its collector,
	// the fallback, the restarted collector), and only the victim's
	// visitors more than once.
	if extra < 0 || extra > 2*int64(share[victim+"#0"]) {
		t.Fatalf("%d visitors over the true count; the bound is twice the victim's %d", extra, share[victim+"#0"])
	}
}
