package goals

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Pattern is a compiled page pattern. See the package documentation for
// the syntax.
type Pattern struct {
	src    string
	prefix string         // the literal before the first wildcard
	re     *regexp.Regexp // nil: the pattern is the literal prefix
}

// ParsePattern compiles a page pattern: it must start with "/", hold
// printable characters only, and be at most MaxPatternLen bytes. It is
// matched as an RE2 regular expression, in time linear in the path
// whatever the wildcards (a backtracking glob is exponential in them).
func ParsePattern(s string) (Pattern, error) {
	if !strings.HasPrefix(s, "/") {
		return Pattern{}, errors.New(`must start with "/"`)
	}
	if len(s) > MaxPatternLen {
		return Pattern{}, fmt.Errorf("must be at most %d bytes", MaxPatternLen)
	}
	if err := checkName(s); err != nil {
		return Pattern{}, err
	}
	i := strings.IndexByte(s, '*')
	if i < 0 {
		return Pattern{src: s, prefix: s}, nil
	}
	var re strings.Builder
	re.WriteString(`\A`)
	for rest := s; rest != ""; {
		j := strings.IndexByte(rest, '*')
		if j < 0 {
			re.WriteString(regexp.QuoteMeta(rest))
			break
		}
		re.WriteString(regexp.QuoteMeta(rest[:j]))
		n := len(rest[j:]) - len(strings.TrimLeft(rest[j:], "*"))
		if n >= 2 {
			re.WriteString(`.*`)
		} else {
			re.WriteString(`[^/]*`)
		}
		rest = rest[j+n:]
	}
	re.WriteString(`\z`)
	compiled, err := regexp.Compile(re.String())
	if err != nil {
		return Pattern{}, fmt.Errorf("cannot compile: %w", err)
	}
	return Pattern{src: s, prefix: s[:i], re: compiled}, nil
}

// String is the pattern as written.
func (p Pattern) String() string { return p.src }

// Match reports whether path matches the whole pattern. A path that does
// not start with the pattern's literal prefix is refused without running
// the expression: most paths of a site, for most goals.
func (p Pattern) Match(path string) bool {
	if p.re == nil {
		return p.src != "" && path == p.src
	}
	return strings.HasPrefix(path, p.prefix) && p.re.MatchString(path)
}
