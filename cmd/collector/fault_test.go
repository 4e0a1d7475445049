package main

// Fault injection: each test runs the collector as a child process (so that
// kill -9 is real) against a private ClickHouse 18.16 of its own, injects
// one fault an operator meets, and compares the page views acknowledged
// (202) with those stored. The bound asserted is the one the README's
// durability table promises; never more stored than acknowledged.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
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

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"tally/aggregator"
	"tally/aggregator/spool"
	"tally/counter"
)

// fault is one fault-injection run: a private ClickHouse, a spool
// directory, the collector's environment and the acknowledgements.
type fault struct {
	t       *testing.T
	dir     string
	spool   string
	ch      *privateClickHouse
	db      string
	env     []string
	addr    string
	logPath string
	got     *acks
}

const (
	faultSync  = 500 * time.Millisecond
	faultFlush = 500 * time.Millisecond
)

func newFault(t *testing.T, extra ...string) *fault {
	t.Helper()
	if testing.Short() {
		t.Skip("fault injection skipped in -short mode")
	}
	f := &fault{t: t, dir: t.TempDir(), db: "fault", got: &acks{}}
	f.spool = filepath.Join(f.dir, "spool")
	f.ch = startPrivateClickHouse(t)
	sitesPath := filepath.Join(f.dir, "sites.json")
	os.WriteFile(sitesPath, []byte(`{"sites":[{"domain":"example.com"}]}`), 0o600)
	f.env = append([]string{
		"CLICKHOUSE_URL=clickhouse://127.0.0.1:" + strconv.Itoa(f.ch.port) + "/" + f.db,
		"SITES_FILE=" + sitesPath,
		"SPOOL_DIR=" + f.spool,
		"SYNC_INTERVAL=" + faultSync.String(),
		"FLUSH_INTERVAL=" + faultFlush.String(),
		"INSERT_TIMEOUT=2s",
		"DEV=true",
		"LOG_LEVEL=info",
		"RATE_LIMIT=-1",
		"METRICS_ADDR=-", "METRICS_TOKEN=" + testMetricsToken, // parallel children share no metrics port
	}, extra...)
	f.addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	f.logPath = filepath.Join(f.dir, "collector.log")
	return f
}

// start runs the collector; a test that fails half way still ends it.
func (f *fault) start() *child {
	c := startChild(f.t, f.env, f.addr, f.logPath)
	f.t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// traffic sends page views for d, each to its own path when varied (so
// that segments and parts grow).
func (f *fault) traffic(d time.Duration, varied bool) {
	if !varied {
		send("http://"+f.addr, d, 4, f.got)
		return
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				body := fmt.Sprintf(`{"name":"pageview","url":"https://example.com/p/%d","domain":"example.com"}`, rand.IntN(1_000_000))
				req, _ := http.NewRequest(http.MethodPost, "http://"+f.addr+"/api/event", strings.NewReader(body))
				req.Header.Set("User-Agent", uaFirefox)
				req.Header.Set("Accept-Language", "en") // as every browser: else filtered as request_shape
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					f.got.add(time.Now())
				}
			}
		}()
	}
	wg.Wait()
}

// term stops the collector with SIGTERM and returns how long it took.
func (f *fault) term(c *child) time.Duration {
	f.t.Helper()
	start := time.Now()
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			f.t.Logf("collector exited with %v after SIGTERM", err)
		}
	case <-time.After(45 * time.Second):
		c.cmd.Process.Kill()
		<-done
		f.t.Fatalf("collector did not exit within 45s of SIGTERM\n%s", f.logs())
	}
	return time.Since(start)
}

func (f *fault) kill(c *child) {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

func (f *fault) logs() string { b, _ := os.ReadFile(f.logPath); return string(b) }

// stored is the page views in ClickHouse.
func (f *fault) stored() int64 {
	f.t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{"127.0.0.1:" + strconv.Itoa(f.ch.port)}})
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close()
	var n int64
	err = conn.QueryRow(context.Background(),
		"SELECT sum(pageviews) FROM "+f.db+".web_counters WHERE site = 'example.com' AND dimension = 'total'").Scan(&n)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// ambiguousHits sums the hits the collector logged as dropped after a
// write of unknown outcome.
func (f *fault) ambiguousHits() int64 { return ambiguousHits(f.logs()) }

// check asserts never more stored than acknowledged, and at most bound
// lost; it logs the figures the README's table quotes.
func (f *fault) check(name string, bound int64, why string) {
	f.t.Helper()
	acked, stored := int64(f.got.count()), f.stored()
	f.t.Logf("FAULT %s: acknowledged %d, stored %d, lost %d (bound %d: %s)", name, acked, stored, acked-stored, bound, why)
	if acked == 0 {
		f.t.Fatal("nothing was acknowledged: the test proves nothing")
	}
	if stored > acked {
		f.t.Fatalf("stored %d page views but only %d were acknowledged: counted twice\n%s", stored, acked, f.logs())
	}
	if acked-stored > bound {
		f.t.Fatalf("lost %d acknowledged page views, more than the bound %d (%s)\n%s", acked-stored, bound, why, f.logs())
	}
}

func (f *fault) killClickHouse() {
	f.ch.cmd.Process.Signal(syscall.SIGKILL)
	f.ch.cmd.Wait()
	f.ch.cmd = nil
}

// killDuringInsert kills ClickHouse -9 as soon as it is running one of the
// collector's inserts (seen in system.processes), or after 3 s; it says
// whether it caught one.
func (f *fault) killDuringInsert() bool {
	conn, err := ch.Open(&ch.Options{Addr: []string{"127.0.0.1:" + strconv.Itoa(f.ch.port)}})
	caught := false
	if err == nil {
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
			var n uint64
			if conn.QueryRow(context.Background(), "SELECT count() FROM system.processes WHERE query LIKE 'INSERT INTO web_counters%'").Scan(&n) == nil && n > 0 {
				caught = true
				break
			}
		}
		conn.Close()
	}
	f.killClickHouse()
	return caught
}

// ClickHouse killed -9 while it writes the collector's inserts, in the
// steady state and during a backlog replay. On 18.16 (no insert
// deduplication) an insert cut off this way is ambiguous and dropped,
// never resent: the loss is at most the hits of those writes (one chunk
// each), which the collector counts and logs.
func TestFaultClickHouseKilledDuringInserts(t *testing.T) {
	f := newFault(t)
	c := f.start()
	f.traffic(time.Second, true)
	// Steady state: killed during a flush while page views keep coming
	// (a flush every 500 ms of thousands of distinct rows).
	var caught [2]bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); caught[0] = f.killDuringInsert() }()
	f.traffic(1500*time.Millisecond, true)
	wg.Wait()
	f.ch.start()
	f.traffic(time.Second, true)
	// A backlog: ClickHouse down for 2 s, back, and killed again while
	// the backlog is being replayed.
	f.killClickHouse()
	f.traffic(2*time.Second, true)
	f.ch.start()
	caught[1] = f.killDuringInsert()
	f.traffic(500*time.Millisecond, true)
	f.ch.start()
	f.traffic(time.Second, true)
	f.term(c)
	t.Logf("killed during an insert: steady state %v, replay %v", caught[0], caught[1])
	f.check("clickhouse-kill-9-during-insert", f.ambiguousHits(), "hits of writes cut off by the kill, dropped as ambiguous and logged")
}

// ClickHouse hung (SIGSTOP) for 8 s, then the collector killed -9: the
// journal kept its interval while the flush waited, so the loss is what
// was acknowledged in the last sync interval (plus writes ambiguous by
// the hang).
func TestFaultClickHouseHungThenCollectorKilled(t *testing.T) {
	f := newFault(t)
	c := f.start()
	f.traffic(time.Second, false)
	f.ch.cmd.Process.Signal(syscall.SIGSTOP)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.traffic(8500*time.Millisecond, false) }()
	time.Sleep(8 * time.Second)
	killedAt := time.Now()
	f.kill(c)
	wg.Wait()
	atRisk := int64(f.got.within(killedAt.Add(-faultSync-100*time.Millisecond), killedAt))
	f.ch.cmd.Process.Signal(syscall.SIGCONT)
	c = f.start()
	f.traffic(time.Second, false)
	f.term(c)
	f.check("clickhouse-hung-then-collector-kill-9", atRisk+f.ambiguousHits(),
		fmt.Sprintf("acknowledged in the last sync interval before the kill (%d) plus ambiguous writes (%d)", atRisk, f.ambiguousHits()))
}

// SIGTERM while ClickHouse hangs: the collector exits within its
// documented 30 s, and what it could not store waits in the spool.
func TestFaultShutdownWhileClickHouseHangs(t *testing.T) {
	f := newFault(t)
	c := f.start()
	f.traffic(time.Second, false)
	f.ch.cmd.Process.Signal(syscall.SIGSTOP)
	f.traffic(2*time.Second, false)
	took := f.term(c)
	t.Logf("SIGTERM with ClickHouse hung: exited in %v", took.Round(10*time.Millisecond))
	if took > 30*time.Second {
		t.Fatalf("shutdown took %v; the README promises 30 s", took)
	}
	f.ch.cmd.Process.Signal(syscall.SIGCONT)
	c = f.start()
	f.traffic(500*time.Millisecond, false)
	f.term(c)
	f.check("sigterm-while-clickhouse-hung", f.ambiguousHits(), "writes cut off by the hang, dropped as ambiguous")
}

// The collector killed between a stored insert and the spool update: the
// spool's renames are slowed down (strace) so that the kill lands after
// ClickHouse stored a segment's web rows and before the spool recorded it.
// The restart must not send them again.
func TestFaultCollectorKilledBetweenInsertAndSpoolUpdate(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (scripts/test.sh installs it)")
	}
	f := newFault(t)
	c := f.start()
	f.traffic(time.Second, false)
	time.Sleep(2 * faultFlush) // stored
	before := f.stored()
	f.ch.stop() // graceful: no insert cut off here, so the bound below is 0
	f.traffic(time.Second, false)
	time.Sleep(2 * faultSync) // all on disk, a sealed segment pending
	// Every rename and unlink of the collector now takes 2 s.
	tr := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", "-p", strconv.Itoa(c.cmd.Process.Pid),
		"-e", "trace=rename,renameat,renameat2,unlink,unlinkat",
		"-e", "inject=rename,renameat,renameat2,unlink,unlinkat:delay_enter=2000000")
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tr.Process.Kill(); tr.Wait() }()
	time.Sleep(300 * time.Millisecond) // attached
	f.ch.start()
	deadline := time.Now().Add(20 * time.Second)
	for f.stored() == before {
		if time.Now().After(deadline) {
			t.Fatalf("the backlog never reached ClickHouse\n%s", f.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.kill(c) // ClickHouse has the rows; the spool does not know yet
	tr.Process.Kill()
	tr.Wait()
	c = f.start()
	f.traffic(500*time.Millisecond, false)
	f.term(c)
	t.Logf("dropped as ambiguous after the restart: %d hits (stored before the kill, so not lost)", f.ambiguousHits())
	if f.ambiguousHits() == 0 {
		t.Fatalf("the restart found no write under way: the kill did not land between an insert and the spool update\n%s", f.logs())
	}
	f.check("collector-kill-9-between-insert-and-spool-update", 0, "nothing: the stored rows are not resent, the rest is")
}

// mountTmpfs mounts a tmpfs of size at dir for the test (root only).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	os.MkdirAll(dir, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

func remount(t *testing.T, dir, mode string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("cannot remount %s %s: %v %s", dir, mode, err, out)
	}
}

func healthz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The spool turns read-only while a sealed segment is pending: new rows go
// to ClickHouse from memory, /healthz says so, the pending segment waits
// (its write cannot be recorded) and is sent once when the disk is back.
func TestFaultReadOnlySpool(t *testing.T) {
	f := newFault(t)
	mountTmpfs(t, f.spool, "16m")
	c := f.start()
	f.traffic(time.Second, false)
	f.ch.stop() // waits for the insert in progress: no ambiguous write
	f.traffic(time.Second, false)
	time.Sleep(2 * faultFlush) // a sealed segment pending
	remount(t, f.spool, "ro")
	f.ch.start()
	f.traffic(2*time.Second, false)
	status, body := healthz(t, f.addr)
	t.Logf("/healthz with a read-only spool: %d %q", status, body)
	if status != http.StatusOK || !strings.Contains(body, "degraded") {
		t.Errorf("/healthz with a read-only spool: %d %q, want 200 and degraded", status, body)
	}
	if got := f.stored(); got == 0 {
		t.Fatalf("nothing reached ClickHouse while the spool was read-only\n%s", f.logs())
	}
	remount(t, f.spool, "rw")
	f.traffic(time.Second, false)
	f.term(c)
	f.check("read-only-spool", f.ambiguousHits(), "nothing (no crash, no segment sent twice) but ambiguous writes")
}

// The spool's filesystem is full (SPOOL_MAX_MB=1 on a 64 KiB tmpfs) while
// ClickHouse is down: rows the disk refuses stay in memory and are written
// from there once ClickHouse is back; the backlog drains too.
func TestFaultFullSpool(t *testing.T) {
	// Without the cap on values per hour, so that the traffic's random
	// paths keep adding rows until the spool's filesystem is full.
	f := newFault(t, "SPOOL_MAX_MB=1", "MAX_VALUES_PER_HOUR=-1")
	mountTmpfs(t, f.spool, "64k")
	c := f.start()
	f.traffic(500*time.Millisecond, true)
	f.ch.stop()
	f.traffic(3*time.Second, true)
	if !strings.Contains(f.logs(), "no space left") {
		t.Fatalf("the spool's filesystem never filled up: the test proves nothing\n%s", f.logs())
	}
	f.ch.start()
	f.traffic(2*time.Second, true)
	f.term(c)
	f.check("full-spool", f.ambiguousHits(), "nothing (no crash; refused rows are written from memory) but ambiguous writes")
}

// Two collectors on one spool directory: the second refuses to start,
// naming the problem; the first goes on.
func TestFaultTwoProcessesOneSpool(t *testing.T) {
	f := newFault(t)
	c := f.start()
	f.traffic(500*time.Millisecond, false)
	second := exec.Command(os.Args[0], "serve")
	second.Env = append(append(os.Environ(), "TALLY_CHAOS_CHILD=1", "LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t))), f.env...)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another collector") {
		t.Fatalf("a second collector on the same spool: %v\n%s", err, out)
	}
	t.Logf("second collector: %s", strings.TrimSpace(string(out)))
	f.traffic(500*time.Millisecond, false)
	f.term(c)
	f.check("two-processes-one-spool", 0, "nothing: the second process does not start")
}

// A corrupt segment and a foreign file in the spool: the collector starts,
// moves the corrupt one aside (counted, logged), leaves the foreign file
// alone, and replays the good segment.
func TestFaultCorruptAndForeignFiles(t *testing.T) {
	f := newFault(t)
	sp, err := spool.Open(f.spool, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	b := aggregator.NewBatch()
	b.Web[counter.WebKey{Site: "example.com", Hour: counter.HourOf(time.Now()), Dimension: counter.DimTotal}] = counter.WebCounts{Hits: 7, Pageviews: 7}
	if _, err := sp.Append(b); err != nil {
		t.Fatal(err)
	}
	sp.Close()
	for i := 0; i < 7; i++ { // acknowledged by the run that spooled them
		f.got.add(time.Now())
	}
	corrupt := filepath.Join(f.spool, "00000000000000000099.sealed")
	foreign := filepath.Join(f.spool, "operator-notes.tmp")
	os.WriteFile(corrupt, []byte("TSP1 this is not a segment"), 0o600)
	os.WriteFile(foreign, []byte("mine"), 0o600)
	c := f.start()
	f.traffic(500*time.Millisecond, false)
	resp, err := getMetrics(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f.term(c)
	if _, err := os.Stat(corrupt + ".corrupt"); err != nil {
		t.Errorf("the corrupt segment was not moved aside: %v", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a file that is not the spool's was touched: %v", err)
	}
	if !strings.Contains(string(metrics), "tally_spool_corrupt_total 1") {
		t.Errorf("the corrupt segment is not counted in /metrics")
	}
	if !strings.Contains(f.logs(), "corrupt spool segment moved aside") {
		t.Errorf("the corrupt segment is not logged")
	}
	f.check("corrupt-and-foreign-files", 0, "nothing but the corrupt segment's own counts")
}

// peakRSS is a process's peak resident memory in bytes (VmHWM).
func peakRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// testMetricsToken serves /metrics on the main listener of the tests'
// collectors.
const testMetricsToken = "test-metrics-token-0123456789"

// getMetrics reads /metrics on a collector's main listener with the token.
func getMetrics(addr string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	return http.DefaultClient.Do(req)
}

// pendingRows reads tally_pending_rows from /metrics (0 if unreachable).
func pendingRows(addr string) int64 {
	resp, err := getMetrics(addr)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "tally_pending_rows "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	return 0
}

// A large spool (600,000 rows in 600 segments, left by an outage) is
// replayed in chunks: memory stays bounded by the chunk (50,000 rows), not
// the spool. Held whole, as counter maps, it would take ~10x its size on
// disk (the issue measured 1.93 GB for a 98 MB spool).
func TestFaultLargeReplayIsBounded(t *testing.T) {
	f := newFault(t, "SPOOL_MAX_MB=1024")
	sp, err := spool.Open(f.spool, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	const segments, rows = 600, 1000
	hour := counter.HourOf(time.Now())
	for s := 0; s < segments; s++ {
		b := aggregator.NewBatch()
		for r := 0; r < rows; r++ {
			b.Web[counter.WebKey{Site: "example.com", Hour: hour, Dimension: counter.DimPath, Value: fmt.Sprintf("/segment/%d/row/%d/padding-to-look-like-a-real-path", s, r)}] = counter.WebCounts{Hits: 1, Pageviews: 1}
		}
		b.Web[counter.WebKey{Site: "example.com", Hour: hour, Dimension: counter.DimTotal}] = counter.WebCounts{Hits: 1, Pageviews: 1}
		if _, err := sp.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	size := sp.Size()
	sp.Close()
	for i := 0; i < segments; i++ {
		f.got.add(time.Now())
	}
	// The same collector idle, on an empty spool, for the baseline.
	idle := *f
	idle.env = append(append([]string(nil), f.env...), "SPOOL_DIR="+filepath.Join(f.dir, "idle-spool"))
	ic := idle.start()
	time.Sleep(time.Second)
	base := peakRSS(ic.cmd.Process.Pid)
	idle.term(ic)

	start := time.Now()
	c := f.start()
	deadline := time.Now().Add(2 * time.Minute)
	var rss, pending int64
	for {
		rss = max(rss, peakRSS(c.cmd.Process.Pid))
		pending = max(pending, pendingRows(f.addr))
		if f.stored() == segments {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay not done after 2 minutes\n%s", f.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	rss = max(rss, peakRSS(c.cmd.Process.Pid))
	f.term(c)
	t.Logf("replayed a %.1f MB spool (%d rows) in %v; peak RSS %.0f MB, idle %.0f MB (race detector: %v); most rows in memory %d",
		float64(size)/1e6, segments*(rows+1), took.Round(100*time.Millisecond), float64(rss)/1e6, float64(base)/1e6, raceEnabled, pending)
	// A chunk is 50,000 rows, plus at most one segment read past it.
	if pending > 50_000+rows+1 {
		t.Errorf("%d rows in memory during the replay: not bounded by the chunk", pending)
	}
	if !raceEnabled && rss-base > 150<<20 {
		t.Errorf("the replay took %.0f MB over idle for a %.0f MB spool: it is not bounded by its chunk", float64(rss-base)/1e6, float64(size)/1e6)
	}
	f.check("large-replay", 0, "nothing")
}

// A database whose tables have another layout stops the start with the
// difference named; one that changes after the start (every flush fails)
// makes /healthz 503.
func TestFaultSchemaMismatch(t *testing.T) {
	f := newFault(t)
	conn, err := ch.Open(&ch.Options{Addr: []string{"127.0.0.1:" + strconv.Itoa(f.ch.port)}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	for _, q := range []string{
		"CREATE DATABASE " + f.db,
		"CREATE TABLE " + f.db + ".web_counters (site String, hour DateTime('UTC'), dimension String, value String, hits Int64, pageviews Int64) ENGINE = SummingMergeTree ORDER BY (site, dimension, hour, value)",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(append(os.Environ(), "TALLY_CHAOS_CHILD=1", "LISTEN_ADDR="+f.addr), f.env...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "web_counters.visitors is missing") {
		t.Fatalf("start on another layout: %v\n%s", err, out)
	}
	t.Logf("start refused: %s", strings.TrimSpace(string(out)))

	// Now the right layout, changed under a running collector.
	conn.Exec(ctx, "DROP DATABASE "+f.db)
	c := f.start()
	f.traffic(500*time.Millisecond, false)
	if err := conn.Exec(ctx, "ALTER TABLE "+f.db+".web_counters DROP COLUMN visitors"); err != nil {
		t.Fatal(err)
	}
	f.traffic(500*time.Millisecond, false)
	var status int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if status, _ = healthz(t, f.addr); status == http.StatusServiceUnavailable {
			break
		}
	}
	if status != http.StatusServiceUnavailable {
		t.Fatalf("/healthz is %d while every flush fails", status)
	}
	f.kill(c)
}

// SPOOL_DIR set to the empty string means memory only, as documented.
func TestSpoolDirEmptyMeansMemoryOnly(t *testing.T) {
	t.Setenv("SPOOL_DIR", "")
	fs := newFlagSet()
	cfg, check := bindConfig(fs, processEnv)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := check(); err != nil || cfg.SpoolDir != "" {
		t.Fatalf("SPOOL_DIR= gave spool dir %q (err %v), want none", cfg.SpoolDir, err)
	}
	os.Unsetenv("SPOOL_DIR")
	fs = newFlagSet()
	cfg, check = bindConfig(fs, processEnv)
	fs.Parse(nil)
	if check(); cfg.SpoolDir != "data/spool" {
		t.Fatalf("SPOOL_DIR unset gave %q, want the default", cfg.SpoolDir)
	}
}
