package useragent

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// This file is the pattern engine behind the crawler lists. The lists are
// written for one big case-insensitive alternation; Go runs such a regexp
// as an NFA over every byte, 80-270µs a header for CrawlerDetect alone.
// Here every pattern is compiled on its own, for input that was lower-cased
// once, and a pattern's regexp runs only when a literal that every match of
// it must contain was found in the header. Finding those literals is one
// pass over the header through a small hash filter, so a header costs a few
// microseconds whatever the number of patterns.

// A rule is one published pattern.
type rule struct {
	reason  string         // the Agent.Bot value when it matches
	list    string         // which list it came from, for tests and the benchmark
	pattern string         // as published
	re      *regexp.Regexp // for lower-cased input, case-sensitive
	// exact, when set, decides instead of re, on the header as sent: for a
	// list published as case-sensitive (crawler-user-agents), whose
	// "Sonic" must not match "Panasonic". re still finds the candidates.
	exact *regexp.Regexp
	// isbot's patterns use JavaScript lookaround, which Go's regexp lacks:
	// a match of re counts only if the text before it ends with none of
	// notAfter and the text after it does not start with notBefore.
	notAfter  []string
	notBefore *regexp.Regexp
}

// match reports whether the rule matches; lower is the lower-cased
// header, orig the header as sent.
func (r *rule) match(lower, orig string) bool {
	if r.exact != nil {
		return r.exact.MatchString(orig)
	}
	s := lower
	if r.notAfter == nil && r.notBefore == nil {
		return r.re.MatchString(s)
	}
	for _, m := range r.re.FindAllStringIndex(s, -1) {
		if r.accept(s, m[0], m[1]) {
			return true
		}
	}
	return false
}

func (r *rule) accept(s string, start, end int) bool {
	for _, p := range r.notAfter {
		if strings.HasSuffix(s[:start], p) {
			return false
		}
	}
	return r.notBefore == nil || !r.notBefore.MatchString(s[end:])
}

// compileRule compiles a published pattern for lower-cased input, as a
// case-insensitive pattern unless caseSensitive is set. A
// leading (?<!a|b) and a trailing (?!x) are the only lookarounds accepted;
// anything else is an error, so that a list update with a new construct
// fails the tests instead of silently matching something else.
func compileRule(reason, list, pattern string, caseSensitive bool) (rule, []literal, *syntax.Regexp, error) {
	r := rule{reason: reason, list: list, pattern: pattern}
	if caseSensitive {
		exact, err := regexp.Compile(pattern)
		if err != nil {
			return r, nil, nil, fmt.Errorf("cannot compile %s pattern %q: %w", list, pattern, err)
		}
		r.exact = exact
	}
	core := pattern
	if strings.HasPrefix(core, "(?<!") {
		end := closingParen(core)
		if end < 0 {
			return r, nil, nil, fmt.Errorf("cannot compile %s pattern %q: unbalanced lookbehind", list, pattern)
		}
		for _, alt := range strings.Split(core[len("(?<!"):end], "|") {
			if alt == "" || regexp.QuoteMeta(alt) != alt {
				return r, nil, nil, fmt.Errorf("cannot compile %s pattern %q: lookbehind %q is not a literal", list, pattern, alt)
			}
			r.notAfter = append(r.notAfter, strings.ToLower(alt))
		}
		core = core[end+1:]
	}
	if i := strings.LastIndex(core, "(?!"); i >= 0 {
		if closingParen(core[i:]) != len(core)-i-1 {
			return r, nil, nil, fmt.Errorf("cannot compile %s pattern %q: lookahead is not at the end", list, pattern)
		}
		ahead, _, err := lowered("^(?:" + core[i+len("(?!"):len(core)-1] + ")")
		if err != nil {
			return r, nil, nil, fmt.Errorf("cannot compile %s pattern %q: %w", list, pattern, err)
		}
		r.notBefore = ahead
		core = core[:i]
	}
	re, tree, err := lowered(core)
	if err != nil {
		return r, nil, nil, fmt.Errorf("cannot compile %s pattern %q: %w", list, pattern, err)
	}
	r.re = re
	lits, ok := required(tree)
	if !ok {
		lits = nil
	}
	if r.notAfter != nil || r.notBefore != nil {
		tree = nil // the core's edges are not the rule's
	}
	return r, lits, tree, nil
}

// closingParen returns the index of the parenthesis closing the group that
// opens s, or -1. Escapes and character classes are skipped.
func closingParen(s string) int {
	depth, inClass := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case inClass:
			inClass = c != ']'
		case c == '[':
			inClass = true
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// lowered parses pattern case-insensitively and rewrites it to match the
// ASCII-lower-cased input exactly where the original matches the original
// input: folded literals become lower case, classes lose their upper-case
// ASCII letters (the input has none left). Literals holding other letters
// keep their fold flag, so they still fold Unicode.
func lowered(pattern string) (*regexp.Regexp, *syntax.Regexp, error) {
	tree, err := syntax.Parse(pattern, syntax.Perl|syntax.FoldCase)
	if err != nil {
		return nil, nil, err
	}
	lower(tree)
	tree = tree.Simplify()
	re, err := regexp.Compile(tree.String())
	if err != nil {
		return nil, nil, err
	}
	return re, tree, nil
}

func lower(re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			break
		}
		ascii := true
		for i, r := range re.Rune {
			if r >= utf8.RuneSelf {
				ascii = false
			} else if 'A' <= r && r <= 'Z' {
				re.Rune[i] = r + 'a' - 'A'
			}
		}
		if ascii {
			re.Flags &^= syntax.FoldCase
		}
	case syntax.OpCharClass:
		re.Rune = withoutUpper(re.Rune)
		if len(re.Rune) == 0 {
			re.Op = syntax.OpNoMatch
		} else if len(re.Rune) == 2 && re.Rune[0] == re.Rune[1] {
			re.Op, re.Rune, re.Flags = syntax.OpLiteral, []rune{re.Rune[0]}, re.Flags&^syntax.FoldCase
		}
	}
	for _, sub := range re.Sub {
		lower(sub)
	}
	if re.Op == syntax.OpConcat {
		re.Sub = mergeLiterals(re.Sub)
	}
}

// withoutUpper removes 'A'-'Z' from a class given as sorted range pairs.
func withoutUpper(ranges []rune) []rune {
	out := make([]rune, 0, len(ranges)+2)
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if hi < 'A' || lo > 'Z' {
			out = append(out, lo, hi)
			continue
		}
		if lo < 'A' {
			out = append(out, lo, 'A'-1)
		}
		if hi > 'Z' {
			out = append(out, 'Z'+1, hi)
		}
	}
	return out
}

// mergeLiterals joins adjacent literals of a concatenation, so that a
// pattern like [cC]laude[bB]ot yields the one literal "claudebot".
func mergeLiterals(subs []*syntax.Regexp) []*syntax.Regexp {
	out := subs[:0]
	for _, s := range subs {
		if n := len(out); n > 0 && s.Op == syntax.OpLiteral && out[n-1].Op == syntax.OpLiteral &&
			s.Flags&syntax.FoldCase == 0 && out[n-1].Flags&syntax.FoldCase == 0 {
			prev := *out[n-1]
			prev.Rune = append(append([]rune(nil), prev.Rune...), s.Rune...)
			out[n-1] = &prev
			continue
		}
		out = append(out, s)
	}
	return out
}

// A literal is a string that a rule's match must contain; anchored ones
// must start the text.
type literal struct {
	s        string
	anchored bool
}

// maxLiterals bounds the alternatives kept for one rule.
const maxLiterals = 16

// required returns literals of which every match of re contains one, or
// false when there is no such set worth filtering on.
func required(re *syntax.Regexp) ([]literal, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []literal{{s: string(re.Rune)}}, true
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpAlternate:
		var all []literal
		for _, sub := range re.Sub {
			lits, ok := required(sub)
			if !ok {
				return nil, false
			}
			all = append(all, lits...)
		}
		if len(all) > maxLiterals {
			return nil, false
		}
		return all, true
	case syntax.OpConcat:
		var best []literal
		for i, sub := range re.Sub {
			lits, ok := required(sub)
			if !ok {
				continue
			}
			if i == 1 && re.Sub[0].Op == syntax.OpBeginText {
				for j := range lits {
					lits[j].anchored = true
				}
			}
			if best == nil || score(lits) > score(best) {
				best = lits
			}
		}
		return best, best != nil
	}
	return nil, false
}

// score ranks literal sets: the shortest member decides how often the
// filter lets text through, and an anchored literal is checked once.
func score(lits []literal) int {
	min := 1 << 30
	for _, l := range lits {
		n := len(l.s)
		if l.anchored {
			n += 8
		}
		if n < min {
			min = n
		}
	}
	return min
}

// firstBytes returns the bytes a match of re can start with, and whether
// re can match the empty string (then the set says nothing alone).
func firstBytes(re *syntax.Regexp) (set [256]bool, nullable bool) {
	switch re.Op {
	case syntax.OpLiteral:
		r := re.Rune[0]
		if r >= utf8.RuneSelf || re.Flags&syntax.FoldCase != 0 {
			return allBytes(), false
		}
		set[r] = true
		return set, false
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi >= utf8.RuneSelf {
				for b := utf8.RuneSelf; b < 256; b++ {
					set[b] = true
				}
				hi = utf8.RuneSelf - 1
			}
			for b := lo; b <= hi; b++ {
				set[b] = true
			}
		}
		return set, false
	case syntax.OpCapture, syntax.OpPlus:
		return firstBytes(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		set, _ = firstBytes(re.Sub[0])
		return set, true
	case syntax.OpRepeat:
		set, nullable = firstBytes(re.Sub[0])
		return set, nullable || re.Min == 0
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			s, n := firstBytes(sub)
			union(&set, &s)
			nullable = nullable || n
		}
		return set, nullable
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			s, n := firstBytes(sub)
			union(&set, &s)
			if !n {
				return set, false
			}
		}
		return set, true
	case syntax.OpEmptyMatch:
		return set, true
	case syntax.OpNoMatch:
		return set, false
	}
	return allBytes(), true // assertions and anything unforeseen: no filter
}

// lastBytes is firstBytes for the end of a match.
func lastBytes(re *syntax.Regexp) (set [256]bool, nullable bool) {
	switch re.Op {
	case syntax.OpLiteral:
		r := re.Rune[len(re.Rune)-1]
		if r >= utf8.RuneSelf || re.Flags&syntax.FoldCase != 0 {
			return allBytes(), false
		}
		set[r] = true
		return set, false
	case syntax.OpCapture, syntax.OpPlus:
		return lastBytes(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		set, _ = lastBytes(re.Sub[0])
		return set, true
	case syntax.OpRepeat:
		set, nullable = lastBytes(re.Sub[0])
		return set, nullable || re.Min == 0
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			s, n := lastBytes(sub)
			union(&set, &s)
			nullable = nullable || n
		}
		return set, nullable
	case syntax.OpConcat:
		for i := len(re.Sub) - 1; i >= 0; i-- {
			s, n := lastBytes(re.Sub[i])
			union(&set, &s)
			if !n {
				return set, false
			}
		}
		return set, true
	case syntax.OpCharClass, syntax.OpEmptyMatch, syntax.OpNoMatch:
		return firstBytes(re) // a class is one character: same set
	}
	return allBytes(), true
}

func allBytes() (set [256]bool) {
	for i := range set {
		set[i] = true
	}
	return set
}

func union(dst, src *[256]bool) {
	for i, ok := range src {
		dst[i] = dst[i] || ok
	}
}

// hasAssertion reports whether re holds an anchor or word boundary, which
// would read differently on a slice of the text than on the whole.
func hasAssertion(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, sub := range re.Sub {
		if hasAssertion(sub) {
			return true
		}
	}
	return false
}

// maxPrefixes bounds prefixSet's answer.
const maxPrefixes = 8

// prefixSet returns literals of which every match of re starts with one,
// and whether they are whole matches (re matches exactly them). It
// returns nil when it cannot say, or when the empty string is one of them.
func prefixSet(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpCapture:
		return prefixSet(re.Sub[0])
	case syntax.OpQuest:
		set, whole := prefixSet(re.Sub[0])
		if set == nil || !whole {
			return nil, false
		}
		return append(set, ""), true
	case syntax.OpConcat:
		acc := []string{""}
		for _, sub := range re.Sub {
			set, whole := prefixSet(sub)
			if set == nil || len(acc)*len(set) > maxPrefixes {
				return nonEmpty(acc), false
			}
			next := make([]string, 0, len(acc)*len(set))
			for _, a := range acc {
				for _, b := range set {
					next = append(next, a+b)
				}
			}
			acc = next
			if !whole {
				return nonEmpty(acc), false
			}
		}
		return nonEmpty(acc), true
	}
	return nil, false
}

// nonEmpty returns set, or nil if it holds the empty string (which says
// nothing about where a match starts).
func nonEmpty(set []string) []string {
	for _, s := range set {
		if s == "" {
			return nil
		}
	}
	return set
}
