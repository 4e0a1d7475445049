package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// accounting is what scripts/loadbench.sh read from the collector's
// /metrics and from ClickHouse after the collector's final flush.
type accounting struct {
	MetricsWeb      int64 `json:"metrics_web"`
	MetricsEmail    int64 `json:"metrics_email"`
	MetricsUnsigned int64 `json:"metrics_unsigned"`
	MetricsRejected int64 `json:"metrics_rejected"`
	MetricsShed     int64 `json:"metrics_shed"`
	CHWeb           int64 `json:"clickhouse_web"`
	CHEmail         int64 `json:"clickhouse_email"`
	CHPageviews     int64 `json:"clickhouse_pageviews"`
	CHWebRows       int64 `json:"clickhouse_web_rows"`
}

// Targets of issue 4 for the collector.
const (
	targetRatio = 0.75   // of nginx's requests per second per core
	targetP99us = 2000.0 // at half of the collector's maximum rate
)

// round is one server's saturation and open-loop runs of one round.
type round struct {
	sat, open *result
	same      *result // open loop at the collector's half rate (ceilings)
	repeated  int     // runs superseded because they were disturbed
}

// server is every round of one server.
type server struct {
	label  string
	rounds map[int]*round
}

func (s *server) ordered() []*round {
	var keys []int
	for k := range s.rounds {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]*round, len(keys))
	for i, k := range keys {
		out[i] = s.rounds[k]
	}
	return out
}

// perCore is requests per second per busy core of the server.
func perCore(r *result) float64 {
	if u := r.CPUUtil[r.Label]; u > 0 {
		return r.RPS / u
	}
	return 0
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// stat gathers one figure over a server's rounds: of the saturation runs,
// or of the open-loop runs at half the maximum (open).
func (s *server) stat(open bool, f func(*result) float64) []float64 {
	return s.statOf(func(r *round) *result {
		if open {
			return r.open
		}
		return r.sat
	}, f)
}

func (s *server) statOf(pick func(*round) *result, f func(*result) float64) []float64 {
	var out []float64
	for _, r := range s.ordered() {
		x := pick(r)
		if x != nil {
			out = append(out, f(x))
		}
	}
	return out
}

func spread(xs []float64, format func(float64) string) string {
	if len(xs) < 2 {
		return ""
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return " (" + format(s[0]) + "–" + format(s[len(s)-1]) + ")"
}

var errAccounting = errors.New("accounting failed")

// report prints the Markdown summary of a results file; it fails when the
// accounting does not hold (targets missed are reported, not failed).
func report(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	results := fs.String("results", "", "results.jsonl written by the runs")
	accFile := fs.String("accounting", "", "accounting.json; empty: no check")
	fs.Parse(args)

	f, err := os.Open(*results)
	if err != nil {
		return err
	}
	defer f.Close()
	servers := map[string]*server{}
	var order []string
	var all []*result // every run, repeated ones included, for the accounting
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		r := &result{}
		if err := json.Unmarshal(sc.Bytes(), r); err != nil {
			return fmt.Errorf("%s: %w", *results, err)
		}
		all = append(all, r)
		s := servers[r.Label]
		if s == nil {
			s = &server{label: r.Label, rounds: map[int]*round{}}
			servers[r.Label] = s
			order = append(order, r.Label)
		}
		rd := s.rounds[r.Round]
		if rd == nil {
			rd = &round{}
			s.rounds[r.Round] = rd
		}
		// A run repeated because it was disturbed supersedes the earlier one.
		slot := &rd.sat
		switch {
		case r.Tag == "same-rate":
			slot = &rd.same
		case r.Mode == "open":
			slot = &rd.open
		}
		if *slot != nil {
			rd.repeated++
		}
		*slot = r
	}
	if err := sc.Err(); err != nil {
		return err
	}

	num := func(x float64) string { return fmt.Sprintf("%.0f", x) }
	ms := func(us float64) string { return fmt.Sprintf("%.2f ms", us/1000) }
	rps := func(r *result) float64 { return r.RPS }
	cpu := func(r *result) float64 { return r.CPUUtil[r.Label] }
	p50 := func(r *result) float64 { return r.P50us }
	p99 := func(r *result) float64 { return r.P99us }
	p999 := func(r *result) float64 { return r.P999us }
	ratio := func(a, b *server) string {
		if a == nil || b == nil {
			return "-"
		}
		pc, base := median(a.stat(false, perCore)), median(b.stat(false, perCore))
		raw, baseRaw := median(a.stat(false, rps)), median(b.stat(false, rps))
		if base == 0 || baseRaw == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%% (%.0f%%)", 100*pc/base, 100*raw/baseRaw)
	}

	rounds := 0
	for _, l := range order {
		rounds = max(rounds, len(servers[l].rounds))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Medians over %d round(s); the range over rounds in parentheses.\n\n", rounds)
	fmt.Fprintln(w, "| server | max req/s (server on 1 core) | server CPU at max | req/s per core | open loop at | p50 | p99 | p99.9 | p50 / p99 at the collector's rate | vs nginx | vs bare Fiber |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, l := range order {
		s := servers[l]
		row := fmt.Sprintf("| %s | %s%s | %.2f cores | %s%s |", l,
			num(median(s.stat(false, rps))), spread(s.stat(false, rps), num),
			median(s.stat(false, cpu)),
			num(median(s.stat(false, perCore))), spread(s.stat(false, perCore), num))
		if o := s.stat(true, rps); len(o) > 0 {
			row += fmt.Sprintf(" %s req/s | %s%s | %s%s | %s |", num(median(o)),
				ms(median(s.stat(true, p50))), spread(s.stat(true, p50), ms),
				ms(median(s.stat(true, p99))), spread(s.stat(true, p99), ms),
				ms(median(s.stat(true, p999))))
		} else {
			row += " - | - | - | - |"
		}
		same := func(r *round) *result { return r.same }
		if p := s.statOf(same, p99); len(p) > 0 {
			row += fmt.Sprintf(" %s / %s%s at %s req/s |", ms(median(s.statOf(same, p50))), ms(median(p)), spread(p, ms),
				num(median(s.statOf(same, rps))))
		} else if l == "collector" {
			row += " (the row's open loop) |"
		} else {
			row += " - |"
		}
		fmt.Fprintln(w, row, ratio(s, servers["nginx"]), "|", ratio(s, servers["fiber"]), "|")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios: of requests per second per core (of raw requests per second in parentheses).")
	fmt.Fprintln(w, "Latency: open loop at half the round's maximum, measured from each request's due time.")
	fmt.Fprintln(w, "Pacer lag: due time to release by the generator (its own precision); due-to-send adds the wait for a free connection.")
	fmt.Fprintln(w, "Generator-limited: pacer lag p99 over 0.5 ms and over a quarter of the run's p99; the server's own p99 is lower.")

	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | req/s | server CPU | load generator CPU | other processes' CPU | p50 / p99 | pacer lag p99 | due-to-send p99 | errors | statuses |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, l := range order {
		for i, rd := range servers[l].ordered() {
			for _, r := range []*result{rd.sat, rd.open, rd.same} {
				if r == nil {
					continue
				}
				pacer, late := "-", "-"
				if r.Mode == "open" {
					pacer, late = ms(r.PacerP99us), ms(r.LateP99us)
					if generatorLimited(r) {
						pacer += " (generator-limited)"
					}
				}
				extra := ""
				if ch, ok := r.CPUUtil["clickhouse"]; ok {
					extra = fmt.Sprintf(" (+ClickHouse %.2f)", ch)
				}
				rep := ""
				if rd.repeated > 0 && r == rd.open {
					rep = fmt.Sprintf(" (%d disturbed run(s) repeated)", rd.repeated)
				}
				var st []string
				for code, n := range r.Statuses {
					st = append(st, fmt.Sprintf("%s: %d", code, n))
				}
				sort.Strings(st)
				mode := r.Mode
				if r.Tag != "" {
					mode += " " + r.Tag
				}
				fmt.Fprintf(w, "| %s r%d %s%s | %.0f | %.2f%s | %.2f | %.2f | %s / %s | %s | %s | %d | %s |\n",
					l, i+1, mode, rep, r.RPS, cpu(r), extra, r.SelfCPUUtil, r.OtherCPUUtil,
					ms(r.P50us), ms(r.P99us), pacer, late, r.Errors, strings.Join(st, ", "))
			}
		}
	}

	if c := servers["collector"]; c != nil {
		fmt.Fprintln(w)
		if rs := c.ordered(); len(rs) > 0 && rs[0].sat != nil {
			tr := rs[0].sat.Traffic
			fmt.Fprintf(w, "Collector traffic: %d distinct requests, %d human and %d crawler user agents, %d client addresses; sent %v.\n",
				tr["distinct_requests"], tr["human_user_agents"], tr["crawler_user_agents"], tr["client_addresses"], sumKinds(all, "collector"))
		}
		if n := servers["nginx"]; n != nil && median(n.stat(false, perCore)) > 0 {
			r := median(c.stat(false, perCore)) / median(n.stat(false, perCore))
			fmt.Fprintf(w, "Target, rate >= %.0f%% of nginx's per core: %.0f%%, %s.\n", 100*targetRatio, 100*r, verdict(r >= targetRatio))
		}
		if p := c.stat(true, p99); len(p) > 0 {
			fmt.Fprintf(w, "Target, p99 < %.0f ms at half the maximum rate: %s (median of rounds), %s.\n",
				targetP99us/1000, ms(median(p)), verdict(median(p) < targetP99us))
		}
	}

	if *accFile == "" {
		return nil
	}
	b, err := os.ReadFile(*accFile)
	if err != nil {
		return err
	}
	var a accounting
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	var webOK, emailOK, forgedOK, errs uint64
	for _, r := range all {
		if r.Label != "collector" {
			continue
		}
		webOK += r.OKByKind["pageview"] + r.OKByKind["custom_event"] + r.OKByKind["web_pixel"]
		emailOK += r.OKByKind["email_open"]
		forgedOK += r.OKByKind["email_forged"]
		errs += r.Errors
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| accounting (every collector run) | web hits | email opens | forged opens |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "| answered 2xx to the load generator | %d | %d | %d |\n", webOK, emailOK, forgedOK)
	fmt.Fprintf(w, "| accepted by the collector (/metrics) | %d | %d | %d (unsigned: not counted) |\n", a.MetricsWeb, a.MetricsEmail, a.MetricsUnsigned)
	fmt.Fprintf(w, "| counted in ClickHouse | %d | %d | - |\n", a.CHWeb, a.CHEmail)
	fmt.Fprintf(w, "\nClickHouse: %d page views in %d web counter rows. Rejected %d, shed %d, load generator errors %d.\n",
		a.CHPageviews, a.CHWebRows, a.MetricsRejected, a.MetricsShed, errs)
	ok := a.CHWeb == a.MetricsWeb && a.CHEmail == a.MetricsEmail &&
		uint64(a.MetricsWeb) == webOK && uint64(a.MetricsEmail) == emailOK && uint64(a.MetricsUnsigned) == forgedOK &&
		a.MetricsRejected == 0 && a.MetricsShed == 0 && errs == 0
	if !ok {
		fmt.Fprintln(w, "ACCOUNTING FAILED: ClickHouse, the collector's metrics and the load generator disagree, or hits were rejected or shed.")
		return errAccounting
	}
	fmt.Fprintln(w, "Accounting OK: every hit the collector answered is in ClickHouse; none rejected or shed.")
	return nil
}

// generatorLimited flags an open-loop run whose p99 owes much to the
// generator's own lag: it was short of CPU (it shares the machine's
// second core with nothing else, but is not free), so the server's tail
// is smaller than the run says.
func generatorLimited(r *result) bool {
	return r.Mode == "open" && r.PacerP99us > 0.25*r.P99us && r.PacerP99us > 500
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// sumKinds adds up the requests sent by kind over every run of label.
func sumKinds(all []*result, label string) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range all {
		if r.Label == label {
			for k, n := range r.SentByKind {
				out[k] += n
			}
		}
	}
	return out
}
