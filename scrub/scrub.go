package scrub

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of what is kept: long enough for real sites, short enough that a
// counter value cannot smuggle a payload into ClickHouse.
const (
	MaxPathLen  = 512
	MaxValueLen = 100
)

// Path returns p with every identifier-shaped segment replaced by its
// placeholder, and every segment that one of rules matches by Wildcard. It
// also makes p valid UTF-8 without control characters (each becomes '_')
// and at most MaxPathLen bytes, cutting whole segments when placeholders
// made it longer. A path with nothing to replace is returned as it is,
// without allocating: this runs on every page view.
//
// Path is idempotent, and Path(Path(p, nil), rules) == Path(p, rules), so
// the default scrub may run where the page is parsed and the site's rules
// later, where the site is known.
func Path(p string, rules *Rules) string {
	if len(p) > MaxPathLen || !printable(p) {
		p = truncate(sanitize(p), MaxPathLen)
	}
	var wild uint64
	if rules != nil {
		wild = rules.match(p)
	}
	var b strings.Builder // written only once a segment changes
	changed := false
	for idx, start := 0, 0; start <= len(p); idx++ {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		seg := p[start:end]
		repl := ""
		if idx < 64 && wild&(1<<idx) != 0 {
			if seg != Wildcard {
				repl = Wildcard
			}
		} else {
			repl = classify(seg)
		}
		if repl != "" && !changed {
			changed = true
			b.Grow(len(p) + 8)
			b.WriteString(p[:start])
		}
		if changed {
			if repl != "" {
				b.WriteString(repl)
			} else {
				b.WriteString(seg)
			}
			if end < len(p) {
				b.WriteByte('/')
			}
		}
		start = end + 1
	}
	if !changed {
		return p
	}
	out := b.String()
	if len(out) > MaxPathLen {
		out = cutSegments(out, MaxPathLen)
	}
	return out
}

// cutSegments cuts p to at most n bytes by dropping whole segments from the
// end, so that no kept segment is cut into a new shape. Placeholders can
// make a path longer ("/a@b" is 4 bytes, "/:email" 7).
func cutSegments(p string, n int) string {
	i := strings.LastIndexByte(p[:n+1], '/')
	if i <= 0 {
		return truncate(p, n)
	}
	p = strings.TrimRight(p[:i], "/")
	if p == "" {
		return "/"
	}
	return p
}

// Value returns a query tag (ref, source, UTM), an event name or a source
// name fit to be counted: letters, marks and digits of any script, spaces
// and the ASCII punctuation in valueASCII (anything else becomes '_'),
// trimmed, at most MaxValueLen bytes, and the whole value replaced by its
// placeholder if it looks like an identifier. A clean value is returned as
// it is, without allocating.
func Value(v string) string {
	if !plainValue(v) {
		v = strings.Map(valueRune, v)
	}
	v = strings.TrimSpace(v)
	if len(v) > MaxValueLen {
		v = strings.TrimSpace(truncate(v, MaxValueLen))
	}
	if ph := classify(v); ph != "" {
		return ph
	}
	return v
}

// valueASCII are the ASCII bytes a value may hold as they are. '@' and '%'
// are kept only so that classify sees an address (it then replaces the
// whole value); '=' , quotes, brackets and backslashes are not kept, which
// also keeps a value from starting a spreadsheet formula with '='.
var valueASCII = func() (t [128]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range " -_.:/+&,'()!?#~*%|$@" {
		t[c] = true
	}
	return t
}()

// plainValue reports whether every byte of v is in valueASCII.
func plainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= utf8.RuneSelf || !valueASCII[c] {
			return false
		}
	}
	return true
}

// valueRune maps one rune of a value to what is kept of it.
func valueRune(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		if valueASCII[r] {
			return r
		}
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return '_'
	case r == utf8.RuneError, unicode.IsControl(r):
		return '_'
	case unicode.IsSpace(r):
		return ' '
	case r == '\uff20' || r == '\ufe6b': // full-width and small '@': classify must see them
		return r
	case unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r):
		return r
	}
	return '_'
}

// printable reports whether s is valid UTF-8 without control characters or
// U+FFFD, the check that lets Path skip sanitize.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= utf8.RuneSelf {
			return !strings.ContainsFunc(s[i:], badRune)
		}
	}
	return true
}

func badRune(r rune) bool { return r == utf8.RuneError || r < 0x20 || r == 0x7f }

// sanitize replaces invalid UTF-8 and control characters, which have no
// place in a label a marketer reads, with '_'.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, badRune) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if badRune(r) {
			return '_'
		}
		return r
	}, s)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
