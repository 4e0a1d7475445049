package language

import "sort"

// Primary is the ISO 639-1 code of the most preferred language of an
// Accept-Language header, or "". The first range with the highest q-value
// wins ("en;q=0.5, de" is "de"); "*" and ranges that are not a two-letter
// (or withdrawn) ISO 639-1 code are skipped.
func Primary(header string) string {
	best, bestQ := "", -1
	for len(header) > 0 {
		var item string
		item, header = cut(header, ',')
		tag, params := cut(item, ';')
		code := lookup(trim(tag))
		if code == "" {
			continue
		}
		if q := quality(params); q > bestQ {
			best, bestQ = code, q
		}
	}
	if bestQ <= 0 {
		return "" // q=0 means "not acceptable"
	}
	return best
}

// lookup is the code of a language tag's primary subtag, or "".
func lookup(tag string) string {
	sub, _ := cut(tag, '-')
	if i := indexByte(sub, '_'); i >= 0 { // en_US, as some clients write it
		sub = sub[:i]
	}
	if len(sub) != 2 {
		return ""
	}
	var b [2]byte
	for i := range 2 {
		c := sub[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c < 'a' || c > 'z' {
			return ""
		}
		b[i] = c
	}
	if i := sort.SearchStrings(codes[:], string(b[:])); i < len(codes) && codes[i] == string(b[:]) {
		return codes[i]
	}
	return withdrawn[string(b[:])]
}

// quality reads q from a range's parameters in thousandths (1000 when
// absent, 0 when malformed).
func quality(params string) int {
	for len(params) > 0 {
		var p string
		p, params = cut(params, ';')
		p = trim(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
			continue
		}
		v := p[2:]
		switch {
		case v == "1" || len(v) >= 2 && v[:2] == "1.":
			return 1000
		case len(v) >= 1 && v[0] == '0':
			q, scale := 0, 100
			for i := 2; i < len(v) && i < 5; i++ {
				if v[1] != '.' || v[i] < '0' || v[i] > '9' {
					return 0
				}
				q += int(v[i]-'0') * scale
				scale /= 10
			}
			return q
		}
		return 0
	}
	return 1000
}

func cut(s string, sep byte) (before, after string) {
	if i := indexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trim(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
