package scrub

import (
	"math"
	"net/netip"
	"strings"
)

// Placeholders stand in for a path segment or a value that looks like it
// names someone. They are a small fixed set so that a dashboard row such as
// /reset/:id reads as what it is, and every placeholder is left as it is by
// a second scrub.
const (
	Email = ":email" // anything holding '@' (or %40, or a full-width @)
	User  = ":user"  // a handle: "@alice" or a home directory "~alice"
	IP    = ":ip"    // an IPv4 or IPv6 literal
	ID    = ":id"    // a token: UUID, long hex, base64/base64url run, JWT, random-looking id
	Num   = ":num"   // a long number: 7+ digits in a row, or 9+ in a phone-like group
	// Local is the source of a referrer on a private network (localhost,
	// a single-label host, an unlisted top-level domain such as .local or
	// .internal, home.arpa). Only referrer hosts produce it.
	Local = ":local"
	// Wildcard replaces a segment that a site's own rule matched.
	Wildcard = "*"
)

// Thresholds of the identifier shapes, tuned with the tables and the random
// token rates in scrub_test.go.
const (
	// minDigitRun digits in a row are a number that may name someone
	// (order, phone, account, customer number); shorter numbers (years,
	// article and product ids like /p/123456) are kept.
	minDigitRun = 7
	// minGroupDigits digits in one group of digits, spaces and -.()+ are a
	// phone or account number ("+49 170 123-4567", "123-45-6789"); a date
	// like 2026-05-12 has 8 and is kept.
	minGroupDigits = 9
	// minHexRun hex digits in a row, letters and digits mixed, are a hash or token
	// (MongoDB ids have 24, SHA-1 40, session ids 16 to 64).
	minHexRun = 16
	// A word (a run of ASCII letters and digits) of minTokenLen or more,
	// or a run of words joined by - _ + = ~ with as many letters and digits,
	// is a token when its randomness score reaches minTokenScore; see
	// score below.
	minTokenLen   = 12
	minTokenScore = 120
	// A JWT starts with "eyJ" (base64 of `{"`), followed by a long run.
	minJWTRun = 16
)

// byte classes for the scanner.
const (
	cOther  = iota
	cLower  // a-z
	cUpper  // A-Z
	cDigit  // 0-9
	cJoiner // - _ + = ~ : join the words of a token run
)

var classOf = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = cUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	for _, c := range "-_+=~" {
		t[c] = cJoiner
	}
	return t
}()

// letterScore is, in tenths of a bit, how much more likely a letter is in
// a random token than in words: log2((1/26) / English frequency), capped
// at 3 bits so that a rare letter (z in German, k in Dutch) cannot decide
// alone. Common letters score below zero, so words score low.
var letterScore = func() (t [256]int8) {
	freq := [26]float64{ // per cent, a to z
		8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.8, 4.0, 2.4,
		6.7, 7.5, 1.9, 0.1, 6.0, 6.3, 9.1, 2.8, 1.0, 2.4, 0.15, 2.0, 0.07}
	for i, f := range freq {
		v := min(math.Round(10*math.Log2(100.0/26/f)), 30)
		t['a'+i], t['A'+i] = int8(v), int8(v)
	}
	return t
}()

// transScore is, in tenths of a bit, what a change of character class
// inside a word says (index: previous class, class). Letter and digit
// changes, lower to upper case and runs of capitals are frequent in random
// tokens and rare in words; upper to lower starts a capitalised word and a
// run of digits is a number, both usual in slugs.
var transScore = [16]int8{ // index previous<<2 | class
	cLower<<2 | cLower: 0, cLower<<2 | cUpper: 15, cLower<<2 | cDigit: 25,
	cUpper<<2 | cLower: -5, cUpper<<2 | cUpper: 10, cUpper<<2 | cDigit: 25,
	cDigit<<2 | cLower: 20, cDigit<<2 | cUpper: 20, cDigit<<2 | cDigit: -15,
}

// consonantScore is added, in tenths of a bit, for every consonant after
// the third in a row: random letters pile consonants up, words rarely do.
const consonantScore = 15

var isVowel = [256]bool{'a': true, 'e': true, 'i': true, 'o': true, 'u': true, 'y': true,
	'A': true, 'E': true, 'I': true, 'O': true, 'U': true, 'Y': true}

// groupSep are the characters that may separate the digits of one phone or
// account number.
var groupSep = [256]bool{' ': true, '-': true, '.': true, '(': true, ')': true, '+': true, '/': true}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// uuidGroups are the hex groups of a UUID, 8-4-4-4-12.
var uuidGroups = [5]int{8, 4, 4, 4, 12}

// classify returns the placeholder for a path segment or a value that looks
// like an identifier, or "" to keep it. It reads s once, keeps its state in
// locals (no closures: this loop is most of the cost of a page view's
// scrub) and never allocates.
func classify(s string) string {
	if len(s) < minDigitRun {
		return classifyShort(s)
	}
	if token, ok := lettersOnly(s); ok {
		if token {
			return ID
		}
		return ""
	}
	return fullScan(s)
}

// fullScan is classify for strings of minDigitRun bytes or more.
func fullScan(s string) string {
	var (
		digitRun, groupDigits int
		hexRun                int
		hexLetter, hexDigit   bool
		uuidStage             int // UUID groups seen so far, each followed by '-'
		wordLen, wordScore    int
		runLen, runScore      int
		runStart              int
		consonants            int
		prev                  uint8
		token, num, nonASCII  bool
		at, percent           bool
		dots, colons          int
		ipChars               = true // only hex digits, '.', ':', '[' and ']'
	)
	// i == len(s) is a virtual separator (class other) that closes every
	// run, so the closing code is written once.
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		k := classOf[c]

		// Numbers: digits in a row, and digits in a phone-like group.
		if k == cDigit {
			digitRun++
			groupDigits++
			if digitRun >= minDigitRun || groupDigits >= minGroupDigits {
				num = true
			}
		} else {
			digitRun = 0
			if !groupSep[c] {
				groupDigits = 0
			}
		}

		// Hex runs and the 8-4-4-4-12 groups of a UUID.
		if isHex(c) {
			hexRun++
			if k == cDigit {
				hexDigit = true
			} else {
				hexLetter = true
			}
		} else {
			if hexRun > 0 {
				if hexRun >= minHexRun && hexLetter && hexDigit {
					token = true
				}
				dash := c == '-'
				switch {
				case uuidStage == 4 && hexRun == uuidGroups[4]:
					token = true
					uuidStage = 0
				case uuidStage > 0 && uuidStage < 4 && hexRun == uuidGroups[uuidStage] && dash:
					uuidStage++
				case hexRun >= uuidGroups[0] && dash:
					uuidStage = 1
				default:
					uuidStage = 0
				}
				hexRun, hexLetter, hexDigit = 0, false, false
			} else {
				uuidStage = 0 // two separators in a row
			}
			switch {
			case c == '.':
				dots++
			case c == ':':
				colons++
			case c == '@':
				at = true
				ipChars = false
			case c == '%':
				percent = true
				ipChars = false
			case c >= 0x80:
				nonASCII = true
				ipChars = false
			case c != '[' && c != ']' && i < len(s):
				ipChars = false
			}
		}

		// Words and runs of words, scored for randomness.
		if k == cLower || k == cUpper || k == cDigit {
			if wordLen == 0 && runLen == 0 {
				runStart = i
			}
			if wordLen > 0 {
				wordScore += int(transScore[(prev<<2|k)&15])
			}
			if k == cDigit || isVowel[c] {
				consonants = 0
			} else {
				consonants++
				if consonants > 3 {
					wordScore += consonantScore
				}
			}
			wordScore += int(letterScore[c])
			wordLen++
			prev = k
			continue
		}
		if wordLen > 0 {
			if wordLen >= minTokenLen && wordScore >= minTokenScore {
				token = true
			}
			runLen += wordLen
			runScore += wordScore
			wordLen, wordScore, consonants = 0, 0, 0
		}
		if k != cJoiner && runLen > 0 {
			if runLen >= minTokenLen && runScore >= minTokenScore {
				token = true
			}
			if runLen >= minJWTRun && strings.HasPrefix(s[runStart:], "eyJ") {
				token = true
			}
			runLen, runScore = 0, 0
		}
	}

	if ph := atSign(s, at, percent, nonASCII); ph != "" {
		return ph
	}
	if s[0] == '~' {
		return User
	}
	if ipChars && (colons >= 2 || dots == 3 && colons == 0) && isIPLiteral(s) {
		return IP
	}
	if token {
		return ID
	}
	if num {
		return Num
	}
	return ""
}

// lettersOnly classifies, in a cheaper pass, a string that only the token
// score can catch: no digit (numbers, hashes, UUIDs and IPv4 need some),
// no '@', '%', ':', non-ASCII byte or leading '~' (addresses, handles,
// IPv6), no run that could be a digit-free UUID or a JWT. ok is false when
// s is not such a string, and the full scan must decide; otherwise token
// is what the full scan would say. Most slugs and tags ("getting-started",
// "newsletter-may") end here.
func lettersOnly(s string) (token, ok bool) {
	if s[0] == '~' {
		return false, false
	}
	var (
		wordLen, wordScore int
		runLen, runScore   int
		consonants         int
		prev               uint8
		runHex             = true // the run is all hex letters: a UUID could be one
	)
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		k := classOf[c]
		switch k {
		case cLower, cUpper:
			runHex = runHex && isHex(c)
			if wordLen == 0 {
				if runLen == 0 && strings.HasPrefix(s[i:], "eyJ") {
					return false, false
				}
			} else {
				wordScore += int(transScore[(prev<<2|k)&15])
			}
			if isVowel[c] {
				consonants = 0
			} else {
				consonants++
				if consonants > 3 {
					wordScore += consonantScore
				}
			}
			wordScore += int(letterScore[c])
			wordLen++
			prev = k
			continue
		case cDigit:
			return false, false
		}
		switch {
		case c == '@', c == '%', c == ':', c >= 0x80:
			return false, false
		}
		if wordLen > 0 {
			if wordLen >= minTokenLen && wordScore >= minTokenScore {
				return true, true
			}
			runLen += wordLen
			runScore += wordScore
			wordLen, wordScore, consonants = 0, 0, 0
		}
		if k != cJoiner && runLen > 0 {
			if runLen >= minTokenLen && runScore >= minTokenScore {
				return true, true
			}
			if runLen >= 32 && runHex {
				return false, false // a UUID of hex letters only: the full scan decides
			}
			runLen, runScore, runHex = 0, 0, true
		}
	}
	return false, true
}

// classifyShort is classify for strings too short for a number, a token or
// a dotted quad: only an address, a handle or an IPv6 literal such as
// "::1" fit. One plain loop costs less than a search per character.
func classifyShort(s string) string {
	var at, percent, nonASCII bool
	colons := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '@':
			at = true
		case c == '%':
			percent = true
		case c == ':':
			colons++
		case c >= 0x80:
			nonASCII = true
		}
	}
	if ph := atSign(s, at, percent, nonASCII); ph != "" {
		return ph
	}
	if len(s) >= 2 && s[0] == '~' {
		return User
	}
	if colons >= 2 && isIPLiteral(s) {
		return IP
	}
	return ""
}

// atSign returns Email for s holding '@' (at), a percent-encoded one
// ("%40", "%2540" after a double encoding) or a full-width or small
// commercial at, which people read as '@'; User for a handle with one
// leading '@' and nothing else of the kind; "" otherwise. The flags say
// which characters s holds, so that a clean s costs no search.
func atSign(s string, at, percent, nonASCII bool) string {
	if !at && !percent && !nonASCII {
		return ""
	}
	encoded := percent && encodedAt(s)
	wide := nonASCII && (strings.Contains(s, "\uff20") || strings.Contains(s, "\ufe6b"))
	switch {
	case at && s[0] == '@' && strings.IndexByte(s[1:], '@') < 0 && !encoded && !wide:
		return User
	case at || encoded || wide:
		return Email
	}
	return ""
}

// encodedAt reports whether s holds '@' percent-encoded, once or more
// ("%40", "%2540", "%252540"), in either case.
func encodedAt(s string) bool {
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		t := s
		for len(t) >= 2 && t[0] == '2' && t[1] == '5' {
			t = t[2:]
		}
		if len(t) >= 2 && t[0] == '4' && t[1] == '0' {
			return true
		}
	}
}

// isIPLiteral reports whether s, without brackets, is an IP address. A
// dotted quad is read here, so that a version number such as 1.2.3 costs
// no failed (allocating) netip parse; only IPv6-shaped strings, which
// clean paths do not hold, go to netip.
func isIPLiteral(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if strings.IndexByte(s, ':') < 0 {
		return isIPv4(s)
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// isIPv4 reports whether s is four dot-separated decimal numbers of 0 to
// 255, as browsers and netip read an IPv4 literal (leading zeros included,
// which netip refuses but some browsers accept).
func isIPv4(s string) bool {
	for part := 0; part < 4; part++ {
		n, digits := 0, 0
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' && digits < 3 {
			n = n*10 + int(s[0]-'0')
			s, digits = s[1:], digits+1
		}
		if digits == 0 || n > 255 {
			return false
		}
		if part < 3 {
			if len(s) == 0 || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
	}
	return s == ""
}
