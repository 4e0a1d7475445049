package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
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

// report prints the Markdown summary of a results file and returns
// whether the accounting holds (targets missed are reported, not failed).
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
	runs := map[string]*pair{}
	var order []string
	var all []*result // every run, repeated ones included, for the accounting
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("%s: %w", *results, err)
		}
		all = append(all, &r)
		p := runs[r.Label]
		if p == nil {
			p = &pair{}
			runs[r.Label] = p
			order = append(order, r.Label)
		}
		// A run repeated because it was disturbed supersedes the earlier one.
		if r.Mode == "closed" {
			if p.sat != nil {
				p.repeated++
			}
			p.sat = &r
		} else {
			if p.open != nil {
				p.repeated++
			}
			p.open = &r
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	perCore := func(r *result) float64 {
		if u := r.CPUUtil[r.Label]; u > 0 {
			return r.RPS / u
		}
		return 0
	}
	ms := func(us float64) string { return fmt.Sprintf("%.3f ms", us/1000) }
	ratio := func(label, base string) string {
		a, b := runs[label], runs[base]
		if a == nil || b == nil || a.sat == nil || b.sat == nil || perCore(b.sat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%% (%.0f%%)", 100*perCore(a.sat)/perCore(b.sat), 100*a.sat.RPS/b.sat.RPS)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server | max req/s (server on 1 core) | server CPU at max | req/s per core | open loop at | p50 | p99 | p99.9 | vs nginx | vs bare Fiber |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, l := range order {
		p := runs[l]
		if p.sat == nil {
			continue
		}
		row := fmt.Sprintf("| %s | %.0f | %.2f cores | %.0f |", l, p.sat.RPS, p.sat.CPUUtil[l], perCore(p.sat))
		if p.open != nil {
			row += fmt.Sprintf(" %.0f req/s | %s | %s | %s |", p.open.RPS, ms(p.open.P50us), ms(p.open.P99us), ms(p.open.P999us))
		} else {
			row += " - | - | - | - |"
		}
		fmt.Fprintln(w, row, ratio(l, "nginx"), "|", ratio(l, "fiber"), "|")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios: per core (raw req/s in parentheses). Latency: open loop, from each request's due time.")
	for _, l := range order {
		if n := runs[l].repeated; n > 0 {
			fmt.Fprintf(w, "%s: %d run(s) repeated because other processes disturbed them; the last one is shown.\n", l, n)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | connections | window | load generator CPU | other processes' CPU | errors | statuses | generator send lag p99 | service time p50 / p99 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---:|---:|")
	for _, l := range order {
		for _, r := range []*result{runs[l].sat, runs[l].open} {
			if r == nil {
				continue
			}
			lag := "-"
			if r.Mode == "open" {
				lag = ms(r.LateP99us)
			}
			extra := ""
			if ch, ok := r.CPUUtil["clickhouse"]; ok {
				extra = fmt.Sprintf(" (+ClickHouse %.2f)", ch)
			}
			fmt.Fprintf(w, "| %s %s | %d | %.1f s | %.2f cores | %.2f cores%s | %d | %v | %s | %s / %s |\n",
				l, r.Mode, r.Conns, r.WindowS, r.SelfCPUUtil, r.OtherCPUUtil, extra, r.Errors, r.Statuses, lag,
				ms(r.SvcP50us), ms(r.SvcP99us))
		}
	}

	if c := runs["collector"]; c != nil && c.sat != nil {
		fmt.Fprintln(w)
		tr := c.sat.Traffic
		fmt.Fprintf(w, "Collector traffic: %d distinct requests, %d human and %d crawler user agents, %d client addresses; sent %v.\n",
			tr["distinct_requests"], tr["human_user_agents"], tr["crawler_user_agents"], tr["client_addresses"], sumKinds(all, "collector"))
		if n := runs["nginx"]; n != nil && n.sat != nil {
			r := perCore(c.sat) / perCore(n.sat)
			fmt.Fprintf(w, "Target rate >= %.0f%% of nginx per core: %.0f%%, %s.\n", 100*targetRatio, 100*r, verdict(r >= targetRatio))
		}
		if c.open != nil {
			fmt.Fprintf(w, "Target p99 < %.0f ms at half the maximum rate: %s, %s.\n", targetP99us/1000, ms(c.open.P99us), verdict(c.open.P99us < targetP99us))
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
	c := runs["collector"]
	if c == nil {
		return fmt.Errorf("no collector runs to account for")
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
	fmt.Fprintln(w, "| accounting | web hits | email opens | forged opens |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "| answered 2xx to the load generator | %d | %d | %d |\n", webOK, emailOK, forgedOK)
	fmt.Fprintf(w, "| accepted by the collector (/metrics) | %d | %d | %d (unsigned, not counted) |\n", a.MetricsWeb, a.MetricsEmail, a.MetricsUnsigned)
	fmt.Fprintf(w, "| counted in ClickHouse | %d | %d | - |\n", a.CHWeb, a.CHEmail)
	fmt.Fprintf(w, "\nClickHouse: %d page views, %d web counter rows; collector rejected %d, shed %d, load generator errors %d.\n",
		a.CHPageviews, a.CHWebRows, a.MetricsRejected, a.MetricsShed, errs)
	ok := a.CHWeb == a.MetricsWeb && a.CHEmail == a.MetricsEmail &&
		uint64(a.MetricsWeb) == webOK && uint64(a.MetricsEmail) == emailOK && uint64(a.MetricsUnsigned) == forgedOK &&
		a.MetricsRejected == 0 && a.MetricsShed == 0 && errs == 0
	if !ok {
		fmt.Fprintln(w, "ACCOUNTING FAILED: ClickHouse, the collector's metrics and the generator disagree, or hits were rejected or shed.")
		return errAccounting
	}
	fmt.Fprintln(w, "Accounting: OK, every hit the collector answered is in ClickHouse, none rejected or shed.")
	return nil
}

// pair is a server's saturation and open-loop runs.
type pair struct {
	sat, open *result
	repeated  int
}

var errAccounting = fmt.Errorf("accounting failed")

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
