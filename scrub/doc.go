// Package scrub makes the values the collector counts unable to name
// anyone: a path segment or a value that looks like an identifier is
// replaced by a placeholder before it is counted, so that /reset/<token>
// and /user/<address> are counted as /reset/:id and /user/:email. It owns
// the shapes, the placeholders and a site's own path rules; package
// referrer applies it to every path, tag and source it produces.
//
// # Placeholders
//
//	:email  anything holding '@', "%40" (also double-encoded "%2540") or a
//	        full-width or small '@': alice@example.com, confirm-bob@x.org
//	:user   a handle: one leading '@' ("@alice") or a home directory ("~alice")
//	:ip     an IPv4 dotted quad or an IPv6 literal, bracketed or not
//	:id     a token: a UUID (8-4-4-4-12 hex, anywhere in the segment); 16 or
//	        more hex digits in a row mixing letters and digits (hashes,
//	        MongoDB ids, session ids); a JWT (a run starting "eyJ"); a word
//	        or a run of words joined by - _ + = ~ of 12 or more letters and
//	        digits whose randomness score reaches the threshold (base64,
//	        base64url, base36, Stripe-like "cus_NffrFeUfNV2Hib", ULIDs)
//	:num    7 or more digits in a row, or 9 or more digits in one group of
//	        digits, spaces and - . ( ) + / (orders, phones, accounts, cards,
//	        timestamps)
//	:local  (sources only) a referrer on a private network
//	*       a segment matched by one of the site's own rules
//
// A path segment is replaced whole (invoice-1234567890.pdf is :num); a
// value (a tag, an event name, a source) is replaced whole. When two shapes
// fit, the order above decides (an IBAN such as DE89370400440532013000 is
// hex-shaped, so :id). Placeholders are fixed points: scrubbing twice
// changes nothing.
//
// # What survives
//
// Numbers of up to 6 digits (/p/123456, years, /blog/2026/05/launch), dates
// (2026-05-12: 8 digits in a group), versions (v1.2.3, 10.0.19041), short
// hashes of build assets under 12 characters (main.3f2a9c1b.js), slugs of
// words in any case (blue-widget-2000, iPhone15ProMaxReview,
// GettingStartedWithKubernetes) and words of any script. A short id that
// looks like a word (/user/4711, /u/alice) cannot be told from a page
// name: a site declares it with a rule.
//
// # The randomness score
//
// Each letter adds log2((1/26) / its English frequency), in tenths of a bit
// and capped at 3 bits: common letters subtract, rare ones add. Each change
// of class inside a word adds: lower to upper 1.5 bits, upper to upper 1,
// letter to digit 2.5, digit to letter 2; upper to lower (a capitalised
// word) subtracts 0.5 and digit to digit (a number) 1.5. Every consonant
// after the third in a row adds 1.5. A word or a run of words of 12 or more
// letters and digits scoring 12 bits or more is a token. Measured with the
// seeded generators of TestRandomTokenRates: random base62 tokens of 16
// characters are caught 96% of the time, of 22 characters 99.6%; base64url
// 94% at 16, 99.4% at 22; base36 95.5% at 20, 99.3% at 26; base32 99.5% at
// 16; mixed-case letters only 98% at 22; lower-case letters only 66% at 16
// and 96% at 32 (such tokens are rare; declare a rule for them). Of 60,000
// slugs made of the 4,000 commonest words of the Go source comments
// (testdata/words.txt), hyphenated, run together and in CamelCase,
// TestWordsSurvive finds none taken for a token.
//
// # Site rules
//
// A site lists its own patterns in the sites file ("path_rules":
// ["/orders/*", "/u/*"]). A pattern is "/" and segments, each a literal
// that must equal the path's segment (case-sensitive, like paths) or "*"
// for any one non-empty segment. A pattern matches a path that starts with
// its segments, and every "*" position becomes "*": with "/u/*",
// /u/alice and /u/alice/settings are counted as /u/* and /u/*/settings.
// Every matching rule applies. ParseRules refuses, with the pattern in the
// message: no leading "/", an empty segment, no "*", "**", a "*" inside a
// segment, a literal that is a placeholder or is itself identifier-shaped
// (it could never match a scrubbed path), more than 31 segments or more
// than 64 rules. Because literals are never scrubbed and "*" is a fixed
// point, Path(Path(p, nil), rules) == Path(p, rules): referrer scrubs
// without rules when it parses the page, and the pipeline applies the
// site's rules with Rules.Apply once the site is known (free for a site
// without rules).
//
// # Bounds
//
// Paths are valid UTF-8 without control characters (each becomes '_'), at
// most MaxPathLen bytes; when placeholders make a path longer, whole
// segments are dropped from the end. Values keep letters, marks and digits
// of any script, spaces and - _ . : / + & , ' ( ) ! ? # ~ * % | $ (anything
// else becomes '_'), are trimmed and at most MaxValueLen bytes. FuzzScrubPath
// and FuzzScrubValue check that no output holds '@', every output is valid
// UTF-8 and within its bound, and scrubbing is idempotent.
//
// # Cost
//
// Path and Value return their input, without allocating, when nothing
// changes (TestCleanPathDoesNotAllocate). Strings shorter than 7 bytes and
// strings without digits or address characters take cheaper passes than
// the full scan. BenchmarkPathClean, on the 2-core development machine
// while other test runs kept it loaded (load average near 5, so wall times
// are inflated two- to three-fold): /pricing 62 ns, /blog/2026/05/launch
// 126 ns, /products/blue-widget-2000 330 ns, a 60-byte docs path 390 ns,
// /blog/2026/05/launch with four site rules 200 ns, all 0 allocations;
// a path with a token to replace 460 ns and 1 allocation; Value of a clean
// tag 62 ns.
package scrub
