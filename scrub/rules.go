package scrub

import (
	"errors"
	"fmt"
	"strings"
)

// Bounds of a site's rules: every rule is tried on every page view.
const (
	MaxRules        = 64
	maxRuleSegments = 32 // positions fit the uint64 mask of Path
)

// Rules are a site's own path patterns, for identifiers the shapes in
// classify cannot see (a user name, a short customer number): "/u/*" turns
// /u/alice and /u/alice/settings into /u/* and /u/*/settings. A pattern is
// "/"-separated segments, each a literal that must equal the path's segment
// or "*" for any one non-empty segment; it matches a path that starts with
// those segments, and each "*" position becomes Wildcard. Every rule that
// matches applies. The zero or nil Rules match nothing.
type Rules struct {
	patterns []string
	rules    []rule
}

type rule struct {
	segs []string // segs[0] is "" (before the leading '/')
	wild uint64   // bit i: segs[i] is "*"
}

// ParseRules compiles a site's path patterns. The error names the pattern
// and what is wrong with it.
func ParseRules(patterns []string) (*Rules, error) {
	if len(patterns) > MaxRules {
		return nil, fmt.Errorf("%d path rules: at most %d", len(patterns), MaxRules)
	}
	r := &Rules{}
	seen := make(map[string]bool, len(patterns))
	for _, p := range patterns {
		ru, err := parseRule(p)
		if err != nil {
			return nil, fmt.Errorf("path rule %q: %w", p, err)
		}
		if seen[p] {
			return nil, fmt.Errorf("path rule %q is declared twice", p)
		}
		seen[p] = true
		r.patterns = append(r.patterns, p)
		r.rules = append(r.rules, ru)
	}
	return r, nil
}

func parseRule(p string) (rule, error) {
	if !strings.HasPrefix(p, "/") {
		return rule{}, errors.New(`must start with "/"`)
	}
	if len(p) > MaxPathLen || !printable(p) {
		return rule{}, fmt.Errorf("must be at most %d bytes of printable UTF-8", MaxPathLen)
	}
	segs := strings.Split(p, "/")
	if len(segs) > maxRuleSegments {
		return rule{}, fmt.Errorf("has more than %d segments", maxRuleSegments-1)
	}
	ru := rule{segs: segs}
	for i, s := range segs[1:] {
		switch {
		case s == "":
			return rule{}, errors.New(`has an empty segment ("//" or a trailing "/")`)
		case s == Wildcard:
			ru.wild |= 1 << (i + 1)
		case s == "**":
			return rule{}, errors.New(`"**" is not supported: "*" stands for one segment, and a rule already covers every path below it`)
		case strings.Contains(s, "*"):
			return rule{}, fmt.Errorf(`segment %q: "*" must be a whole segment`, s)
		case isPlaceholder(s):
			return rule{}, fmt.Errorf("segment %q is a placeholder the scrubber writes, not a path segment", s)
		default:
			if ph := classify(s); ph != "" {
				return rule{}, fmt.Errorf("segment %q looks like an identifier (scrubbed to %s), so it never reaches the rule: use \"*\"", s, ph)
			}
		}
	}
	if ru.wild == 0 {
		return rule{}, errors.New(`has no "*": nothing to replace`)
	}
	return ru, nil
}

func isPlaceholder(s string) bool {
	switch s {
	case Email, User, IP, ID, Num, Local:
		return true
	}
	return false
}

// Apply is Path for a path that Path has already scrubbed without rules
// (as referrer.ParsePage does): it applies the site's rules, and costs
// nothing for a site without any, the common case.
func (r *Rules) Apply(p string) string {
	if r == nil || len(r.rules) == 0 {
		return p
	}
	return Path(p, r)
}

// Patterns returns the patterns as declared, for a site's privacy
// statement.
func (r *Rules) Patterns() []string {
	if r == nil {
		return nil
	}
	return r.patterns
}

// match returns the positions (segment indexes, 0 before the leading '/')
// that a matching rule turns into Wildcard.
func (r *Rules) match(p string) uint64 {
	var wild uint64
	for i := range r.rules {
		if r.rules[i].matches(p) {
			wild |= r.rules[i].wild
		}
	}
	return wild
}

// matches reports whether p starts with the rule's segments.
func (ru *rule) matches(p string) bool {
	for i, want := range ru.segs {
		if p == "" && i > 0 {
			return false // fewer segments than the rule
		}
		seg := p
		if j := strings.IndexByte(p, '/'); j >= 0 {
			seg, p = p[:j], p[j+1:]
		} else {
			p = ""
		}
		if ru.wild&(1<<i) != 0 {
			if seg == "" {
				return false
			}
		} else if seg != want {
			return false
		}
	}
	return true
}
