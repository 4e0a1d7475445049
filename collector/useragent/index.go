package useragent

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// ruleSet is a list of rules behind a literal prefilter. Rule order is
// priority order: when several match, the first one's reason wins.
type ruleSet struct {
	rules []rule
	// Unanchored literals are filed under their first gramLen bytes (fewer
	// for shorter literals): grams[n-1] for an n-byte key. bloom is a
	// 64k-bit filter over every key, so that most positions of a header
	// cost one bit test per key length.
	grams [gramLen]map[uint32][]entry
	bloom [bloomBits / 64]uint64
	// anchored holds literals that must start the text, by first byte.
	anchored [256][]entry
	// always are rules without a usable literal: they run on every text
	// whose first and last bytes they can match (edges).
	always []int32
	edges  map[int32]*edgeBytes
}

// edgeBytes are the bytes a rule's match can start (end) the text with,
// for a rule anchored at the start (end); nil sets do not filter.
type edgeBytes struct {
	first, last *[256]bool
}

type entry struct {
	lit  string
	rule int32
}

const (
	gramLen   = 4
	bloomBits = 1 << 16
)

// add appends a rule with the literals its matches must contain (nil:
// none usable) and its parsed tree.
func (s *ruleSet) add(r rule, lits []literal, tree *syntax.Regexp) {
	id := int32(len(s.rules))
	s.rules = append(s.rules, r)
	usable := lits != nil
	for _, l := range lits {
		if len(l.s) < 2 && !l.anchored {
			usable = false // one byte lets nearly every text through
		}
	}
	if !usable {
		s.always = append(s.always, id)
		if e := edges(tree); e != nil {
			if s.edges == nil {
				s.edges = make(map[int32]*edgeBytes)
			}
			s.edges[id] = e
		}
		return
	}
	for _, l := range lits {
		if l.anchored {
			s.anchored[l.s[0]] = append(s.anchored[l.s[0]], entry{l.s, id})
			continue
		}
		n := min(len(l.s), gramLen)
		k := gramKey(l.s[:n])
		if s.grams[n-1] == nil {
			s.grams[n-1] = make(map[uint32][]entry)
		}
		s.grams[n-1][k] = append(s.grams[n-1][k], entry{l.s, id})
		h := bloomHash(k, n)
		s.bloom[h/64] |= 1 << (h % 64)
	}
}

func gramKey(b string) uint32 {
	var k uint32
	for i := 0; i < len(b); i++ {
		k |= uint32(b[i]) << (8 * i)
	}
	return k
}

func bloomHash(k uint32, n int) uint32 {
	return ((k + uint32(n)) * 0x9E3779B1) >> (32 - 16)
}

// candidates marks in seen the rules whose literal occurs in s and
// appends them to out, in the order found.
func (s *ruleSet) candidates(text string, seen []uint64, out []int32) []int32 {
	if len(text) > 0 {
		for _, e := range s.anchored[text[0]] {
			if strings.HasPrefix(text, e.lit) {
				out = mark(seen, out, e.rule)
			}
		}
	}
	var k uint32
	for i := 0; i < len(text); i++ {
		// k holds the gramLen bytes from i, little-endian; shorter at the end.
		if i == 0 {
			for j := 0; j < gramLen && j < len(text); j++ {
				k |= uint32(text[j]) << (8 * j)
			}
		} else {
			k >>= 8
			if j := i + gramLen - 1; j < len(text) {
				k |= uint32(text[j]) << (8 * (gramLen - 1))
			}
		}
		for n := 2; n <= gramLen && i+n <= len(text); n++ {
			key := k & (1<<(8*n) - 1)
			if n == gramLen {
				key = k
			}
			h := bloomHash(key, n)
			if s.bloom[h/64]&(1<<(h%64)) == 0 {
				continue
			}
			for _, e := range s.grams[n-1][key] {
				if strings.HasPrefix(text[i:], e.lit) {
					out = mark(seen, out, e.rule)
				}
			}
		}
	}
	for _, id := range s.always {
		if e := s.edges[id]; e != nil && len(text) > 0 &&
			(e.first != nil && !e.first[text[0]] || e.last != nil && !e.last[text[len(text)-1]]) {
			continue
		}
		out = mark(seen, out, id)
	}
	return out
}

// mark appends id to out unless seen has it.
func mark(seen []uint64, out []int32, id int32) []int32 {
	if seen[id/64]&(1<<(id%64)) == 0 {
		seen[id/64] |= 1 << (id % 64)
		out = append(out, id)
	}
	return out
}

// first returns the index of the first rule (in rule order) matching text,
// or -1. text is lower-cased; orig is the text as sent, for the rules that
// are case-sensitive.
func (s *ruleSet) first(text, orig string) int32 {
	var seenBuf [128]uint64
	seen := seenBuf[:]
	if n := (len(s.rules) + 63) / 64; n > len(seen) {
		seen = make([]uint64, n)
	}
	var candBuf [64]int32
	cands := s.candidates(text, seen, candBuf[:0])
	best := int32(-1)
	for _, id := range cands {
		if best >= 0 && id >= best {
			continue
		}
		if s.rules[id].match(text, orig) {
			best = id
		}
	}
	return best
}

// excluder removes CrawlerDetect's exclusions (browser tokens such as
// "Safari/537.36" or "Mobile" phone names that contain "bot") from a
// header before its crawler patterns run, as CrawlerDetect does with one
// ReplaceAllString over an alternation of them. Each exclusion is compiled
// anchored and tried only at positions holding one of its first bytes, in
// list order: the leftmost match wins, and at one position the earliest
// exclusion, which is the alternation's leftmost-first rule.
type excluder struct {
	byFirst [256][]exclusion
}

type exclusion struct {
	// prefixes: every match starts with one of them; checked before the
	// regexp, which costs a few hundred nanoseconds a call.
	prefixes []string
	re       *regexp.Regexp // ^(?:pattern), for lower-cased text
}

func newExcluder(patterns []string) (*excluder, error) {
	x := &excluder{}
	for _, p := range patterns {
		re, tree, err := lowered(p)
		if err != nil {
			return nil, fmt.Errorf("cannot compile exclusion %q: %w", p, err)
		}
		if hasAssertion(tree) {
			return nil, fmt.Errorf("cannot compile exclusion %q: anchors and word boundaries are not supported", p)
		}
		firsts, nullable := firstBytes(tree)
		if nullable {
			return nil, fmt.Errorf("cannot compile exclusion %q: it matches the empty string", p)
		}
		anchored, err := regexp.Compile(`^(?:` + re.String() + `)`)
		if err != nil {
			return nil, fmt.Errorf("cannot compile exclusion %q: %w", p, err)
		}
		prefixes, _ := prefixSet(tree)
		for b, ok := range firsts {
			if ok {
				x.byFirst[b] = append(x.byFirst[b], exclusion{prefixes: prefixes, re: anchored})
			}
		}
	}
	return x, nil
}

// window bounds the text an exclusion's regexp first sees: Go's
// backtracker clears state in proportion to the text, and matches are
// short. A match that reaches the window's end, or no match in a cut
// window, is retried on the whole text, so the answer is the same: the
// exclusions' optional and repeated parts can all stop at any point, so a
// cut can only end a match at the cut or fail it (the equivalence and fuzz
// tests compare with CrawlerDetect's own ReplaceAllString).
const window = 64

// matchLen returns the length of e's match at the start of text, or 0.
func (e *exclusion) matchLen(text string) int {
	if len(text) > window {
		if loc := e.re.FindStringIndex(text[:window]); loc != nil && loc[1] < window {
			return loc[1]
		}
	}
	if loc := e.re.FindStringIndex(text); loc != nil {
		return loc[1]
	}
	return 0
}

func hasAnyPrefix(s string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// strip appends text without its exclusions to dst.
func (x *excluder) strip(dst []byte, text string) []byte {
	last := 0
	for i := 0; i < len(text); {
		end := -1
		for _, e := range x.byFirst[text[i]] {
			if !hasAnyPrefix(text[i:], e.prefixes) {
				continue
			}
			if n := e.matchLen(text[i:]); n > 0 {
				end = i + n
				break
			}
		}
		if end < 0 {
			i++
			continue
		}
		dst = append(dst, text[last:i]...)
		i, last = end, end
	}
	return append(dst, text[last:]...)
}

// edges returns the first and last bytes a rule anchored at the start or
// end of the text can see there, or nil when it is anchored at neither.
func edges(tree *syntax.Regexp) *edgeBytes {
	if tree == nil || tree.Op != syntax.OpConcat || len(tree.Sub) < 2 {
		return nil
	}
	var e edgeBytes
	subs := tree.Sub
	if subs[0].Op == syntax.OpBeginText {
		set, nullable := firstBytes(&syntax.Regexp{Op: syntax.OpConcat, Sub: subs[1:]})
		if !nullable {
			e.first = &set
		}
	}
	if subs[len(subs)-1].Op == syntax.OpEndText {
		set, nullable := lastBytes(&syntax.Regexp{Op: syntax.OpConcat, Sub: subs[:len(subs)-1]})
		if !nullable {
			e.last = &set
		}
	}
	if e.first == nil && e.last == nil {
		return nil
	}
	return &e
}

// all returns every rule matching text.
func (s *ruleSet) all(text, orig string) []int32 {
	seen := make([]uint64, (len(s.rules)+63)/64)
	var out []int32
	for _, id := range s.candidates(text, seen, nil) {
		if s.rules[id].match(text, orig) {
			out = append(out, id)
		}
	}
	return out
}
