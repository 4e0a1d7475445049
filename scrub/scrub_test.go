package scrub

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// identifiers are real-world identifier shapes, each alone as a path
// segment, and the placeholder it must become.
var identifiers = []struct{ in, want string }{
	// Email addresses, plain and encoded as they reach a decoded path.
	{"alice@example.com", Email},
	{"alice.smith+news@mail.example.co.uk", Email},
	{"alice%40example.com", Email}, // double-encoded: %2540 decoded once
	{"alice%2540example.com", Email},
	{"ALICE%40EXAMPLE.COM", Email},
	{"bob＠example.com", Email}, // full-width at sign
	{"a＠b", Email},
	{"a﹫b.c", Email}, // small commercial at
	{"confirm-alice@example.com-now", Email},
	{"a@b", Email},
	{"@", User},
	{"@alice", User},
	{"@alice.smith", User},
	{"~alice", User},
	{"~a", User},
	// IP literals.
	{"10.20.30.40", IP},
	{"192.168.0.1", IP},
	{"2001:db8::beef", IP},
	{"[2001:db8::beef]", IP},
	{"::1", IP},
	{"fe80::1ff:fe23:4567:890a", IP},
	// UUIDs (v1, v4, v7, upper case, in braces, inside a name).
	{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", ID},
	{"550e8400-e29b-41d4-a716-446655440000", ID},
	{"018f3c1e-7b2a-7c4d-9e8f-0a1b2c3d4e5f", ID},
	{"550E8400-E29B-41D4-A716-446655440000", ID},
	{"{550e8400-e29b-41d4-a716-446655440000}", ID},
	{"invite-550e8400-e29b-41d4-a716-446655440000.pdf", ID},
	{"550e8400e29b41d4a716446655440000", ID}, // without dashes
	// Hashes and hex tokens.
	{"356a192b7913b04c54574d18c28d46e6395428ab", ID},                         // SHA-1
	{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ID}, // SHA-256
	{"5f2b9c1d7e3a4f6b", ID},                                                 // 16 hex, a session id
	{"507f1f77bcf86cd799439011", ID},
	{"d41d8cd98f00b204e9800998ecf8427e", ID}, // MD5
	{"3f2a9c1b7d4e", ID},                     // a 12-digit short hash
	{"reset-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", ID},
	// Reset, session and API tokens.
	{"q3vi7m2l5o8m9uv0c1h3k6f4g2", ID},              // PHP session id
	{"s%3AJ2kT9xLm2PwR7tBqZ3kQ9xLm2PwR7tB.aB3", ID}, // express session cookie shape
	{"Zx8vKq2LmN4pQr7sT1uV", ID},
	{"dGhpcyBpcyBhIHNlY3JldCB0b2tlbg", ID},                                // base64 of text
	{"dGhpcyBpcyBhIHNlY3JldCB0b2tlbg==", ID},                              // padded
	{"aB3_xY9-kLm2nP4qR5sT", ID},                                          // base64url with - and _
	{"Kx9_Qm2-Zp7_Wr4-Lt8_Nv3-Hs6", ID},                                   // base64url, many joiners
	{"8-uXh9ZqB_k2R4mN7vY1cQ", ID},                                        // 16 random bytes, base64url
	{"wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY", ID},                      // AWS-style secret
	{"ghp_16C7e42F292c6912E7710c838347Ae178B4a", ID},                      // GitHub token shape
	{"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", ID},      // Slack token shape
	{"CAESIJ7n8Yp2q3R4s5T6u7V8w9X0y1Z2a3B4c5D6e7F8", ID},                  // OAuth code
	{"4/0AX4XfWh3k9J2mLq8Rz5tVnY7pB1cD6eF0gH", ID},                        // Google auth code (one segment of it)
	{"pi_3MtwBwLkdIwHu7ix28a3tqPa", ID},                                   // Stripe payment intent
	{"cus_NffrFeUfNV2Hib", ID},                                            // Stripe customer
	{"sub_1MowQVLkdIwHu7ixeRlqHVzs", ID},                                  // Stripe subscription
	{"sk_live_51H8s2kJ3m4n5o6p7q8r9s0t", ID},                              // Stripe secret key
	{"cs_test_a1B2c3D4e5F6g7H8i9J0", ID},                                  // Stripe checkout session
	{"01ARZ3NDEKTSV4RRFFQ69G5FAV", ID},                                    // ULID
	{"ckx5q7z2b0000abcd1234efgh", ID},                                     // cuid
	{"V1StGXR8_Z5jdHi6B-myT", ID},                                         // nanoid
	{"CjwKCAjw9r-DBhBxEiwA9qYUpXk3L1mN2oP3qR4sT5uV6wX7yZ8", ID},           // gclid
	{"IwAR2F4-dbP0l7Mn3zHYa8kO3VHlWlgrt6R_rqjuLJOw7bkERb9yqqzJ1nbmo", ID}, // fbclid
	// JWTs, whole and as parts.
	{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFsaWNlIn0.SflKxwRJSFeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", ID},
	{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", ID},
	{"eyJzdWIiOiJhbGljZSJ9", ID},
	// Long numbers: orders, phones, accounts, cards, timestamps.
	{"1234567", Num},
	{"4711081512", Num},
	{"order-20260512093", Num},
	{"INV-2026-0001234", Num},
	{"+4917012345678", Num},
	{"+49 170 123-4567", Num},
	{"(555) 123-4567", Num},
	{"555-123-4567", Num},
	{"123-45-6789", Num},
	{"4111 1111 1111 1111", Num},
	{"4111-1111-1111-1111", Num},
	{"1715505600", Num},            // Unix time
	{"1715505600123", Num},         // Unix milliseconds
	{"DE89370400440532013000", ID}, // an IBAN: hex-shaped, so :id
	{"00491701234567", Num},
}

// survivors are path segments and values that name nobody and must be kept
// exactly.
var survivors = []string{
	"blog", "2026", "05", "launch", "pricing", "docs", "v2", "install",
	"google", "newsletter-may", "products", "blue-widget-2000", "p", "12345", "123456",
	"2026-05-12", "12.05.2026", "2026-05-12-release-notes", "v1.2.3", "1.22.333", "10.0.19041",
	"how-to-install-node-18-on-ubuntu-22-04", "x86_64", "x86-64-v3-and-arm64-v8a-compared",
	"ipv6-vs-ipv4", "h264-vs-h265", "mp3", "utf-8", "3d-printing", "top-10-tips-for-2026",
	"iPhone15ProMax", "iPhone15ProMaxReview", "MacBookPro2023Review", "MacBook-Pro-M3-2023-Review",
	"GettingStartedWithKubernetes", "JavaScript", "PostgreSQL15", "WooCommerce", "GPT4oMiniVsClaude3Opus",
	"B07XJ8C8F5", // an ASIN: a product, not a person
	"SKU-12345-XL", "size-44", "ref-9876", "chapter-12", "page-2", "index.html", "favicon.ico",
	"main.3f2a9c1b.js", "app-4f3c2a.css", "photo_1234.jpg", "IMG_2046.JPG", "report-2026-q1.pdf",
	"Donaudampfschifffahrtsgesellschaft", "supercalifragilisticexpialidocious",
	"dead-beef-cafe-face-bead-fade", "decade", "facade", "accede", "feedback",
	"über-uns", "日本語のページ", "café", "naïve-bayes", "ÜberGrößenTabelle2026",
	"user", "reset", "orders", "u", "settings", "account", "checkout", "thank-you",
	"Outbound Link: Click", "File Download", "Signup", "404", "pageview", "Yahoo!", "Hacker News",
	"spring-sale-2026", "black_friday", "50%-off", "Q3 launch", "email", "cpc", "google/cpc",
	"news.ycombinator.com", "example.co.uk", "github.io", "substack.com",
	"1.2.3.256", "1.2.3", "2001-db8", "a.b", "face.bad", ":",
	":email", ":user", ":ip", ":id", ":num", ":local", "*",
}

func TestClassify(t *testing.T) {
	for _, c := range identifiers {
		if got := classify(c.in); got != c.want {
			t.Errorf("classify(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, s := range survivors {
		if got := classify(s); got != "" {
			t.Errorf("classify(%q) = %q, want it kept", s, got)
		}
	}
}

func TestPath(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := Path(in, nil); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
	for _, p := range []string{
		"/", "/blog/2026/05/launch", "/pricing", "/docs/v2/install", "/products/blue-widget-2000",
		"/p/12345", "/p/123456", "/blog/how-to-install-node-18-on-ubuntu-22-04", "/de/über-uns",
		"/static/main.3f2a9c1b.js", "/a//b", "/:id", "/u/*", "relative/path", "",
	} {
		f(p, p)
	}
	f("/reset/9f86d081884c7d659a2feaa0c55ad015", "/reset/:id")
	f("/user/alice@example.com", "/user/:email")
	f("/user/alice@example.com/settings", "/user/:email/settings")
	f("/orders/20260512093", "/orders/:num")
	f("/p/1234567", "/p/:num")
	f("/invite/550e8400-e29b-41d4-a716-446655440000/accept", "/invite/:id/accept")
	f("/auth/callback/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl", "/auth/callback/:id")
	f("/~alice/papers/thesis.pdf", "/:user/papers/thesis.pdf")
	f("/@alice", "/:user")
	f("/billing/cus_NffrFeUfNV2Hib/invoices/1234567890", "/billing/:id/invoices/:num")
	f("/hosts/10.20.30.40", "/hosts/:ip")
	f("/a@b/c@d/x", "/:email/:email/x")
	f("/x\x00y/alice@example.com", "/x_y/:email")
	f("/bad\xffutf8", "/bad_utf8")
}

func TestPathBound(t *testing.T) {
	// 128 segments of "a@b" (512 bytes) grow to 896 with placeholders: whole
	// segments are cut, never a placeholder.
	in := strings.Repeat("/a@b", MaxPathLen/4)
	got := Path(in, nil)
	if len(got) > MaxPathLen || !strings.HasPrefix(got, "/:email/:email") || !strings.HasSuffix(got, "/:email") {
		t.Fatalf("Path of %d bytes of addresses = %d bytes ending %q", len(in), len(got), got[max(0, len(got)-20):])
	}
	long := "/" + strings.Repeat("é", 400)
	if got := Path(long, nil); len(got) > MaxPathLen || !utf8.ValidString(got) {
		t.Fatalf("long path not cut on a rune boundary: %d bytes", len(got))
	}
}

func TestValue(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := Value(in); got != want {
			t.Errorf("Value(%q) = %q, want %q", in, got, want)
		}
	}
	for _, v := range []string{"google", "newsletter-may", "Spring Sale 2026", "Outbound Link: Click", "Yahoo!",
		"google/cpc", "frühling-2026", "春のキャンペーン", "50%-off", ""} {
		f(v, v)
	}
	f("  newsletter  ", "newsletter")
	f("welcome-alice@example.com", Email)
	f("alice%40example.com", Email)
	f("user-4711081512", Num)
	f("9f86d081884c7d659a2feaa0c55ad015", ID)
	f("10.20.30.40", IP)
	f("2001:db8::beef", IP)
	f("a=b", "a_b")
	f("<script>alert(1)</script>", "_script_alert(1)_/script_")
	f("tab\there", "tab here")
	f("ctl\x01", "ctl_")
	f("\xff\xfe", "__")
	f("party 🎉", "party _")
	f("no\u00a0break", "no break")
	f(strings.Repeat("a", 200), strings.Repeat("a", MaxValueLen))
	f(strings.Repeat("ab ", 40), strings.Repeat("ab ", 33)+"a")
}

func TestRules(t *testing.T) {
	rules, err := ParseRules([]string{"/orders/*", "/u/*", "/shop/*/reviews/*"})
	if err != nil {
		t.Fatal(err)
	}
	f := func(in, want string) {
		t.Helper()
		if got := Path(in, rules); got != want {
			t.Errorf("Path(%q, rules) = %q, want %q", in, got, want)
		}
		if got := Path(Path(in, nil), rules); got != want {
			t.Errorf("Path(Path(%q, nil), rules) = %q, want %q", in, got, want)
		}
	}
	f("/orders/4711", "/orders/*")
	f("/orders/20260512093", "/orders/*")
	f("/orders/4711/items/2", "/orders/*/items/2")
	f("/orders", "/orders")
	f("/orders/", "/orders/")
	f("/orders/*", "/orders/*")
	f("/u/alice", "/u/*")
	f("/u/alice/settings", "/u/*/settings")
	f("/u/alice/reset/9f86d081884c7d659a2feaa0c55ad015", "/u/*/reset/:id")
	f("/users/alice", "/users/alice")
	f("/shop/blue-widget/reviews/bob", "/shop/*/reviews/*")
	f("/shop/blue-widget/photos/bob", "/shop/blue-widget/photos/bob")
	f("/Orders/4711", "/Orders/4711") // literals are case-sensitive, like paths
	if got := rules.Apply(Path("/u/alice/reset/9f86d081884c7d659a2feaa0c55ad015", nil)); got != "/u/*/reset/:id" {
		t.Errorf("Apply after Path = %q", got)
	}
	var none *Rules
	if got := none.Apply("/u/alice"); got != "/u/alice" {
		t.Errorf("nil Rules.Apply = %q", got)
	}
	if got := rules.Patterns(); len(got) != 3 || got[1] != "/u/*" {
		t.Errorf("Patterns() = %q", got)
	}
	if got := Path("/orders/1", (*Rules)(nil)); got != "/orders/1" {
		t.Errorf("nil rules changed a path: %q", got)
	}
}

func TestParseRulesErrors(t *testing.T) {
	bad := func(pattern, wantErr string) {
		t.Helper()
		_, err := ParseRules([]string{pattern})
		if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), fmt.Sprintf("%q", pattern)) {
			t.Errorf("ParseRules(%q) error = %v, want it to name the pattern and say %q", pattern, err, wantErr)
		}
	}
	bad("orders/*", `must start with "/"`)
	bad("/orders//*", "empty segment")
	bad("/orders/*/", "empty segment")
	bad("/orders", `has no "*"`)
	bad("/orders/**", `"**" is not supported`)
	bad("/orders/ord_*", `must be a whole segment`)
	bad("/:id/*", "placeholder")
	bad("/alice@example.com/*", "looks like an identifier (scrubbed to :email)")
	bad("/1234567890/*", "scrubbed to :num")
	bad("/x\x00/*", "printable")
	bad("/"+strings.Repeat("a/", 40)+"*", "more than 31 segments")
	if _, err := ParseRules([]string{"/u/*", "/u/*"}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate rule: %v", err)
	}
	many := make([]string, MaxRules+1)
	for i := range many {
		many[i] = "/r" + strings.Repeat("x", i) + "/*"
	}
	if _, err := ParseRules(many); err == nil {
		t.Error("more than MaxRules accepted")
	}
}

// TestRandomTokenRates measures how often random tokens of common alphabets
// and lengths are caught, and fails if a rate falls below what doc.go
// states. Seeded, so the rates are the same on every run.
func TestRandomTokenRates(t *testing.T) {
	const (
		base62    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		base64url = base62 + "-_"
		base36    = "abcdefghijklmnopqrstuvwxyz0123456789"
		hexLower  = "0123456789abcdef"
		base32    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
		lower     = "abcdefghijklmnopqrstuvwxyz"
	)
	rng := rand.New(rand.NewPCG(1, 2))
	token := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for _, c := range []struct {
		name     string
		alphabet string
		n        int
		min      float64 // least share caught
	}{
		{"hex 16", hexLower, 16, 1},
		{"hex 32", hexLower, 32, 1},
		{"base62 16", base62, 16, 0.95},
		{"base62 22", base62, 22, 0.99},
		{"base62 32", base62, 32, 0.999},
		{"base64url 16", base64url, 16, 0.93},
		{"base64url 22", base64url, 22, 0.99},
		{"base64url 43", base64url, 43, 0.999},
		{"base36 20", base36, 20, 0.95},
		{"base36 26", base36, 26, 0.99},
		{"base32 16", base32, 16, 0.99},
		{"base32 32", base32, 32, 0.999},
		{"letters 22", base62[:52], 22, 0.97},
		{"lower 16", lower, 16, 0.6},
		{"lower 32", lower, 32, 0.95},
	} {
		const tries = 20000
		caught := 0
		for range tries {
			if classify(token(c.alphabet, c.n)) != "" {
				caught++
			}
		}
		rate := float64(caught) / tries
		t.Logf("%-13s %.4f caught", c.name, rate)
		if rate < c.min {
			t.Errorf("%s: %.4f caught, want at least %.4f", c.name, rate, c.min)
		}
	}
}

func TestCleanPathDoesNotAllocate(t *testing.T) {
	rules, err := ParseRules([]string{"/orders/*", "/u/*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/blog/2026/05/launch", "/docs/v2/install", "/products/blue-widget-2000?", "/de/über-uns", "/docs/1.2/x", "/orders/*"} {
		if n := testing.AllocsPerRun(100, func() { Path(p, rules) }); n != 0 {
			t.Errorf("Path(%q) allocates %.1f times", p, n)
		}
	}
	for _, v := range []string{"newsletter-may", "google", "Spring Sale 2026"} {
		if n := testing.AllocsPerRun(100, func() { Value(v) }); n != 0 {
			t.Errorf("Value(%q) allocates %.1f times", v, n)
		}
	}
}

// checkScrubbed is the contract of every output: no '@', valid UTF-8,
// bounded, and a fixed point.
func checkScrubbed(t *testing.T, what, in, out string, bound int, again string) {
	t.Helper()
	if strings.ContainsRune(out, '@') {
		t.Fatalf("%s(%q) = %q holds '@'", what, in, out)
	}
	if !utf8.ValidString(out) {
		t.Fatalf("%s(%q) = %q is not valid UTF-8", what, in, out)
	}
	if len(out) > bound {
		t.Fatalf("%s(%q) = %d bytes, more than %d", what, in, len(out), bound)
	}
	if again != out {
		t.Fatalf("%s is not idempotent: %q -> %q -> %q", what, in, out, again)
	}
}

func FuzzScrubPath(f *testing.F) {
	for _, c := range identifiers {
		f.Add("/x/" + c.in + "/y")
	}
	for _, s := range survivors {
		f.Add("/" + s)
	}
	f.Add(strings.Repeat("/a@b", 200))
	f.Add("/orders/4711/u/alice")
	rules, err := ParseRules([]string{"/orders/*", "/u/*", "/*/edit", "/shop/*/reviews/*"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out := Path(p, nil)
		checkScrubbed(t, "Path", p, out, MaxPathLen, Path(out, nil))
		withRules := Path(p, rules)
		checkScrubbed(t, "Path(rules)", p, withRules, MaxPathLen, Path(withRules, rules))
		if two := Path(out, rules); two != withRules {
			t.Fatalf("Path(Path(%q, nil), rules) = %q, Path(p, rules) = %q", p, two, withRules)
		}
	})
}

func FuzzScrubValue(f *testing.F) {
	for _, c := range identifiers {
		f.Add(c.in)
	}
	for _, s := range survivors {
		f.Add(s)
	}
	f.Add(strings.Repeat("ab ", 40))
	f.Fuzz(func(t *testing.T, v string) {
		out := Value(v)
		checkScrubbed(t, "Value", v, out, MaxValueLen, Value(out))
		if out != strings.TrimSpace(out) {
			t.Fatalf("Value(%q) = %q is not trimmed", v, out)
		}
	})
}

func BenchmarkPathClean(b *testing.B) {
	for _, p := range []string{"/pricing", "/blog/2026/05/launch", "/products/blue-widget-2000", "/docs/v2/install/linux/getting-started-with-the-command-line"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Path(p, nil)
			}
		})
	}
}

func BenchmarkPathCleanWithRules(b *testing.B) {
	rules, err := ParseRules([]string{"/orders/*", "/u/*", "/shop/*/reviews/*", "/account/*/invoices/*"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Path("/blog/2026/05/launch", rules)
	}
}

func BenchmarkPathScrubbed(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Path("/reset/9f86d081884c7d659a2feaa0c55ad015/confirm", nil)
	}
}

func BenchmarkValueClean(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Value("newsletter-may")
	}
}

// TestWordsSurvive builds slugs from the 4,000 most frequent words of the Go
// source comments (testdata/words.txt): hyphenated, run together, and in
// CamelCase, some with a number of up to 4 digits, and counts those taken
// for identifiers.
func TestWordsSurvive(t *testing.T) {
	data, err := os.ReadFile("testdata/words.txt")
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(string(data))
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 20000
	var falseHyphen, falseJoined, falseCamel int
	var examples []string
	for range n {
		parts := make([]string, 2+rng.IntN(6))
		camel := make([]string, len(parts))
		for i := range parts {
			w := words[rng.IntN(len(words))]
			if rng.IntN(8) == 0 && (i == 0 || !unicode.IsDigit(rune(parts[i-1][0]))) {
				w = strconv.Itoa(rng.IntN(10000)) // numbers never side by side: 7 digits are a :num
			}
			parts[i] = w
			camel[i] = strings.ToUpper(w[:1]) + w[1:]
		}
		for _, c := range []struct {
			slug  string
			count *int
		}{
			{strings.Join(parts, "-"), &falseHyphen},
			{strings.Join(parts[:min(3, len(parts))], ""), &falseJoined},
			{strings.Join(camel, ""), &falseCamel},
		} {
			if ph := classify(c.slug); ph != "" {
				*c.count++
				if len(examples) < 10 {
					examples = append(examples, c.slug+" -> "+ph)
				}
			}
		}
	}
	t.Logf("taken for identifiers of %d each: hyphenated %d, run together %d, CamelCase %d; e.g. %q",
		n, falseHyphen, falseJoined, falseCamel, examples)
	if falseHyphen > 0 || falseJoined > n/1000 || falseCamel > n/1000 {
		t.Errorf("too many slugs taken for identifiers")
	}
}

// TestLettersOnlyAgrees checks the cheap pass against the full scan on the
// strings it decides.
func TestLettersOnlyAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_~.+= /eyJabcdefABCDEF-----"
	decided := 0
	for range 200000 {
		b := make([]byte, minDigitRun+rng.IntN(50))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(b)
		token, ok := lettersOnly(s)
		if !ok {
			continue
		}
		decided++
		if full := fullScan(s); (full == ID) != token || (full != "" && full != ID) {
			t.Fatalf("lettersOnly(%q) = %v; the full scan says %q", s, token, full)
		}
	}
	if decided < 100000 {
		t.Fatalf("lettersOnly decided only %d strings", decided)
	}
}
