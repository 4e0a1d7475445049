package useragent

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

func TestTmpIsbotEquivalent(t *testing.T) {
	var rs ruleSet
	pats, _ := lines("isbot-patterns.txt")
	for _, p := range pats {
		r, lits, tree, err := compileRule(BotCrawler, ListIsbot, p)
		if err != nil { t.Fatal(err) }
		rs.add(r, lits, tree)
	}
	f, _ := os.Open("/tmp/isbot-verdicts.txt")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n, diff := 0, 0
	for sc.Scan() {
		v, ua, _ := strings.Cut(sc.Text(), "\t")
		n++
		got := rs.first(lowerASCII(nil, ua)) >= 0
		if got != (v == "1") {
			diff++
			if diff < 30 { t.Errorf("%q: go %v js %v", ua, got, v) }
		}
	}
	t.Logf("%d, %d differ", n, diff)
}
