// Command loadgen is the load generator of scripts/loadbench.sh: it builds a
// list of realistic requests once (real user agents from crawlerdetect's
// test data, many client addresses in X-Forwarded-For, a mix of page views,
// pixels and signed email opens), then drives one loopback server with them
// over keep-alive connections, either
//
//   - closed loop (-mode closed): every connection sends its next request as
//     soon as the previous answer arrived; the rate reached is the server's
//     maximum, or
//   - open loop (-mode open -rate R): requests are due at a constant rate,
//     spread over the connections as in wrk2, and each latency is measured
//     from the time the request was due, not from when it could be sent, so
//     a stalled server is charged for the requests queued behind it (no
//     coordinated omission).
//
// It prints one JSON line of results.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

type result struct {
	Round      int               `json:"round"`
	Tag        string            `json:"tag,omitempty"`
	Label      string            `json:"label"`
	Mode       string            `json:"mode"`
	Conns      int               `json:"conns"`
	TargetRate float64           `json:"target_rate,omitempty"`
	WindowS    float64           `json:"window_s"`
	RPS        float64           `json:"rps"`
	Sent       uint64            `json:"sent"`               // whole run, warm-up included
	Completed  uint64            `json:"completed"`          // answered, any status
	Overflow   uint64            `json:"overflow,omitempty"` // due requests the generator could not queue
	Errors     uint64            `json:"errors"`             // connection or protocol errors
	FirstError string            `json:"first_error,omitempty"`
	Dials      int               `json:"dials"`
	Statuses   map[string]uint64 `json:"statuses"`
	SentByKind map[string]uint64 `json:"sent_by_kind"`
	OKByKind   map[string]uint64 `json:"ok_by_kind"` // 2xx answers, whole run
	Samples    uint64            `json:"samples"`    // latencies recorded (measurement window)
	P50us      float64           `json:"p50_us"`
	P90us      float64           `json:"p90_us"`
	P99us      float64           `json:"p99_us"`
	P999us     float64           `json:"p999_us"`
	MaxUs      float64           `json:"max_us"`
	SvcP50us   float64           `json:"service_p50_us"`
	SvcP99us   float64           `json:"service_p99_us"`
	LateP50us  float64           `json:"send_lag_p50_us,omitempty"`
	LateP99us  float64           `json:"send_lag_p99_us,omitempty"`
	// Pacer: from due time to release by the generator, its own lag
	// (send lag adds the wait for a free connection).
	PacerP50us  float64            `json:"pacer_lag_p50_us,omitempty"`
	PacerP99us  float64            `json:"pacer_lag_p99_us,omitempty"`
	CPUSeconds  map[string]float64 `json:"cpu_seconds"`     // per watched process, over the window
	CPUUtil     map[string]float64 `json:"cpu_utilisation"` // cores busy, over the window
	SelfCPUUtil float64            `json:"loadgen_cpu_utilisation"`
	// MachineCPUUtil is every core's busy time over the window; what the
	// watched processes and the generator do not explain was used by
	// something else on the machine (a disturbance the report shows).
	MachineCPUUtil float64        `json:"machine_cpu_utilisation"`
	OtherCPUUtil   float64        `json:"other_cpu_utilisation"`
	Traffic        map[string]int `json:"traffic"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "report" {
		if err := report(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr      = flag.String("addr", "127.0.0.1:8080", "server address; must be a loopback address")
		mode      = flag.String("mode", "closed", "closed (saturation) or open (constant rate)")
		conns     = flag.Int("conns", 64, "keep-alive connections")
		rate      = flag.Float64("rate", 0, "open loop: requests per second")
		duration  = flag.Duration("duration", 15*time.Second, "measurement window")
		warmup    = flag.Duration("warmup", 3*time.Second, "time before the window, not measured")
		label     = flag.String("label", "", "name of the server in the results")
		round     = flag.Int("round", 1, "round number, for the results")
		tag       = flag.String("tag", "", "kind of run, for the results (same-rate: a ceiling at the collector's rate)")
		pids      = flag.String("cpu-pids", "", "name=pid,... processes whose CPU time is measured over the window")
		gifOnly   = flag.Bool("gif-only", false, "send every hit as GET /p.gif (the static ceilings)")
		cpuProf   = flag.String("cpuprofile", "", "write the generator's own CPU profile here (window only)")
		checkSign = flag.String("check-signed-url", "", "verify the signing against this URL from `collector sign-pixel` (campaign from the path, r and c from the query) and exit")
		cfg       trafficConfig
		mix       string
	)
	flag.Uint64Var(&cfg.Seed, "seed", 1, "traffic seed")
	flag.IntVar(&cfg.Requests, "requests", 200000, "distinct requests built (cycled)")
	flag.IntVar(&cfg.Visitors, "visitors", 50000, "distinct visitors (client address + user agent)")
	flag.IntVar(&cfg.HumanUAs, "human-uas", 4000, "distinct human user agents")
	flag.IntVar(&cfg.CrawlerUAs, "crawler-uas", 400, "distinct crawler user agents")
	flag.Float64Var(&cfg.CrawlerRate, "crawler-rate", 0.03, "share of visitors that are crawlers")
	flag.StringVar(&cfg.UAFiles, "ua-dir", "", "crawlerdetect's testdata directory (devices.txt, crawlers.txt)")
	flag.StringVar(&cfg.Site, "site", "example.com", "site domain")
	flag.StringVar(&cfg.PageHost, "page-host", "www.example.com", "hostname of the site's pages")
	flag.StringVar(&cfg.Secret, "secret", "change-me-example-secret-0123456789abcdef", "the site's email secret")
	flag.IntVar(&cfg.Campaigns, "campaigns", 12, "email campaigns")
	flag.IntVar(&cfg.Recipients, "recipients", 40000, "email recipients")
	flag.StringVar(&mix, "mix", "55,5,25,15", "percent of pageview, custom event, web pixel, email open")
	flag.Parse()

	if *checkSign != "" {
		return checkSigning(*checkSign, cfg.Secret)
	}
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	if _, err := fmt.Sscanf(mix, "%d,%d,%d,%d", &cfg.Mix[0], &cfg.Mix[1], &cfg.Mix[2], &cfg.Mix[3]); err != nil {
		return fmt.Errorf("-mix: %v", err)
	}
	if *mode != "open" && *mode != "closed" {
		return fmt.Errorf("-mode must be open or closed")
	}
	if *mode == "open" && *rate <= 0 {
		return fmt.Errorf("open loop needs -rate")
	}
	if *duration <= 0 || *duration > 10*time.Minute || *warmup < 0 || *conns < 1 || *conns > 4096 {
		return fmt.Errorf("duration must be in (0, 10m], conns in [1, 4096]")
	}
	if cfg.UAFiles == "" {
		return fmt.Errorf("-ua-dir is required")
	}
	cfg.GIFOnly = *gifOnly
	watched, err := parsePids(*pids)
	if err != nil {
		return err
	}

	tr, err := buildTraffic(cfg)
	if err != nil {
		return err
	}

	runtime.GOMAXPROCS(2) // the loop's thread, and one for the window's bookkeeping
	l, err := newLoop(*addr, *conns, tr)
	if err != nil {
		return err
	}
	defer l.close()
	var stop atomic.Bool
	warm, end := *warmup, *warmup+*duration
	l.base = time.Now()
	baseMono := monoNow()
	loopErr := make(chan error, 1)
	go func() {
		if *mode == "closed" {
			l.closed(warm, &stop)
			loopErr <- nil
		} else {
			loopErr <- l.open(float64(time.Second) / *rate, warm, end, baseMono)
		}
	}()

	time.Sleep(time.Until(l.base.Add(warm)))
	t0 := time.Now()
	done0 := l.st.done.Load()
	cpu0 := cpuTimes(watched)
	self0 := selfCPU()
	busy0 := machineBusy()
	others0 := allCPU()
	if *cpuProf != "" {
		pf, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		defer pf.Close()
		pprof.StartCPUProfile(pf)
	}
	time.Sleep(time.Until(l.base.Add(end)))
	t1 := time.Now()
	done1 := l.st.done.Load()
	cpu1 := cpuTimes(watched)
	self1 := selfCPU()
	busy1 := machineBusy()
	others1 := allCPU()
	if *cpuProf != "" {
		pprof.StopCPUProfile()
	}
	stop.Store(true)
	if err := <-loopErr; err != nil {
		return err
	}

	window := t1.Sub(t0).Seconds()
	res := result{
		Round: *round, Tag: *tag, Label: *label, Mode: *mode, Conns: *conns, WindowS: window,
		Statuses: map[string]uint64{}, SentByKind: map[string]uint64{}, OKByKind: map[string]uint64{},
		CPUSeconds: map[string]float64{}, CPUUtil: map[string]float64{},
		SelfCPUUtil: (self1 - self0) / window,
		Traffic: map[string]int{
			"distinct_requests": len(tr.reqs), "human_user_agents": tr.humanUAs,
			"crawler_user_agents": tr.crawlerUAs, "client_addresses": tr.addresses,
		},
	}
	st := &l.st
	if *mode == "open" {
		res.TargetRate = *rate
		res.Overflow = st.overflow
		res.Errors += res.Overflow
	}
	res.Errors += st.errs
	if st.firstErr != nil {
		res.FirstError = st.firstErr.Error()
	}
	for _, c := range l.conns {
		res.Dials += c.dials
	}
	for k := range numKinds {
		res.Sent += st.sent[k]
		res.SentByKind[kindNames[k]] += st.sent[k]
		res.OKByKind[kindNames[k]] += st.ok[k]
	}
	for s, n := range st.statuses {
		if n > 0 {
			res.Statuses[strconv.Itoa(s)] += n
			res.Completed += n
		}
	}
	lat, svc, late := &st.lat, &st.svc, &st.late
	if *mode == "closed" {
		res.RPS = float64(done1-done0) / window
	} else {
		res.RPS = float64(lat.n) / (end - warm).Seconds()
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	res.Samples = lat.n
	res.P50us, res.P90us, res.P99us, res.P999us = us(lat.quantile(.5)), us(lat.quantile(.9)), us(lat.quantile(.99)), us(lat.quantile(.999))
	res.MaxUs = us(time.Duration(lat.max))
	res.SvcP50us, res.SvcP99us = us(svc.quantile(.5)), us(svc.quantile(.99))
	if *mode == "open" {
		res.LateP50us, res.LateP99us = us(late.quantile(.5)), us(late.quantile(.99))
		res.PacerP50us, res.PacerP99us = us(st.pacer.quantile(.5)), us(st.pacer.quantile(.99))
	}
	res.MachineCPUUtil = (busy1 - busy0) / window
	ours := map[int]bool{os.Getpid(): true}
	for name, pid := range watched {
		s := cpu1[name] - cpu0[name]
		res.CPUSeconds[name] = s
		res.CPUUtil[name] = s / window
		ours[pid] = true
	}
	var other float64
	for pid, t := range others1 {
		if !ours[pid] {
			other += t - others0[pid]
		}
	}
	res.OtherCPUUtil = other / window
	return json.NewEncoder(os.Stdout).Encode(res)
}

func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address: this generator only targets this machine", addr)
		}
	}
	return nil
}

func parsePids(s string) (map[string]int, error) {
	m := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		name, p, ok := strings.Cut(part, "=")
		pid, err := strconv.Atoi(p)
		if !ok || err != nil {
			return nil, fmt.Errorf("-cpu-pids: want name=pid, got %q", part)
		}
		m[name] = pid
	}
	return m, nil
}

// cpuTimes reads user+system time of each process from /proc (all its
// threads; children it waited for are not included).
func cpuTimes(pids map[string]int) map[string]float64 {
	out := map[string]float64{}
	for name, pid := range pids {
		out[name] = procCPU(strconv.Itoa(pid))
	}
	return out
}

func selfCPU() float64 { return procCPU("self") }

func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command: state is field 3; utime and
	// stime are fields 14 and 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// allCPU reads the CPU time of every process.
func allCPU() map[int]float64 {
	out := map[int]float64{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		out[pid] = procCPU(e.Name())
	}
	return out
}

// machineBusy is the busy time of all cores in seconds, from /proc/stat:
// user, nice, system, irq, softirq and steal.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest (already in user)
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / 100
}

func checkSigning(raw, secret string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/e/"), "/")
	if len(parts) != 2 || !strings.HasSuffix(parts[1], ".gif") {
		return fmt.Errorf("not an email pixel URL: %s", raw)
	}
	q := u.Query()
	want := u.Path + "?" + u.RawQuery
	got := emailPath(secret, parts[0], strings.TrimSuffix(parts[1], ".gif"), q.Get("r"), q.Get("c") == "1", false)
	if got != want {
		return errors.New("signing differs from the collector's: got " + got + ", collector signs " + want)
	}
	fmt.Println("signing matches the collector's:", want, runtime.Version())
	return nil
}
