package sites

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"tally/goals"
	"tally/pixel"
	"tally/scrub"
)

// MinSecretLen is the shortest accepted email signing secret: 32 bytes keep
// HMAC-SHA256 signatures unguessable.
const MinSecretLen = 32

// Site is one declared site.
type Site struct {
	// Domain is the site's identifier, as sent in events (`domain`) and
	// pixels (`d`), lower case.
	Domain string
	// Hostnames are the hosts whose pages belong to the site; referrers from
	// them are internal navigation, not sources. Always includes Domain.
	Hostnames []string
	// Mode is the site's consent mode.
	Mode Mode
	// EmailSecret is the site's unversioned pixel-signing key (URLs
	// without k=). Empty when the site declares only email_keys, or no
	// email at all.
	EmailSecret []byte
	// EmailKeys are the site's pixel-signing keys with ids, oldest first:
	// new URLs are signed with the last one, and every listed key keeps
	// verifying the URLs it signed until it is removed from the file.
	EmailKeys []EmailKey
	// SentTokenHashes are SHA-256 hashes of the bearer tokens that may
	// report sends (POST /api/campaigns/{id}/sent). A site without them
	// accepts its EmailSecret there, as before the tokens existed.
	SentTokenHashes [][sha256.Size]byte
	// Location is the site's time zone for dashboard ranges ("today",
	// "this month"); UTC unless the file names an IANA zone.
	Location *time.Location
	// APITokenHashes are SHA-256 hashes of the site's read-only stats API
	// tokens. Only hashes are kept in the file, so a leaked or shared config
	// does not leak working tokens; the tokens are long and random, so a fast
	// hash is enough.
	APITokenHashes [][sha256.Size]byte
	// MinCountK is the small-count threshold k of the admin's own view:
	// counts below k are folded into "(other)" or withheld. It is
	// DefaultMinCountK unless the file sets min_count_k; an explicit 0
	// leaves the admin's view unfolded (the admin can read the tables
	// anyway) but never the outputs others see: see SharedK.
	MinCountK int
	// PathRules are the site's own path patterns ("/orders/*", "/u/*"):
	// the segments they match are counted as "*", for identifiers that
	// the default scrub cannot recognise (a user name, a short customer
	// number). Parse always sets it; nil (a Site built by hand) matches
	// nothing, as scrub.Path reads it.
	PathRules *scrub.Rules
	// Conversions are the site's goals, funnels and allow-listed custom
	// properties from the file (goals.Registry adds the goals edited in
	// the dashboard).
	Conversions goals.Config
}

// DefaultMinCountK is k when the sites file does not set min_count_k: a
// count below 5 (visitors, or hits where no visitor is recorded) is
// withheld from every output.
const DefaultMinCountK = 5

// SharedK is k for every output but the admin's own view (share links,
// API tokens, Grafana): MinCountK, or DefaultMinCountK when that is 0.
func (s *Site) SharedK() int {
	if s.MinCountK <= 0 {
		return DefaultMinCountK
	}
	return s.MinCountK
}

// HasAPIToken reports whether token is one of the site's API tokens, in
// constant time over the candidate hashes.
func (s *Site) HasAPIToken(token string) bool {
	if token == "" {
		return false
	}
	h := sha256.Sum256([]byte(token))
	found := 0
	for i := range s.APITokenHashes {
		found |= subtle.ConstantTimeCompare(h[:], s.APITokenHashes[i][:])
	}
	return found == 1
}

// EmailKey is one pixel-signing key of a site.
type EmailKey struct {
	ID     string // "" for the unversioned email_secret
	Secret []byte
}

// SigningKey is the key that signs new email URLs: the newest of
// email_keys, else the unversioned email_secret. ok is false when the
// site has no email.
func (s *Site) SigningKey() (k EmailKey, ok bool) {
	if n := len(s.EmailKeys); n > 0 {
		return s.EmailKeys[n-1], true
	}
	if len(s.EmailSecret) > 0 {
		return EmailKey{Secret: s.EmailSecret}, true
	}
	return EmailKey{}, false
}

// VerifyingKey finds the secret named by a URL's key id ("" for the
// unversioned email_secret).
func (s *Site) VerifyingKey(id string) ([]byte, bool) {
	if id == "" {
		return s.EmailSecret, len(s.EmailSecret) > 0
	}
	for _, k := range s.EmailKeys {
		if k.ID == id {
			return k.Secret, true
		}
	}
	return nil, false
}

// HasSentToken reports whether token may report sends, in constant time
// over the candidates.
func (s *Site) HasSentToken(token string) bool {
	if token == "" {
		return false
	}
	if len(s.SentTokenHashes) == 0 {
		return len(s.EmailSecret) > 0 && subtle.ConstantTimeCompare([]byte(token), s.EmailSecret) == 1
	}
	h := sha256.Sum256([]byte(token))
	found := 0
	for i := range s.SentTokenHashes {
		found |= subtle.ConstantTimeCompare(h[:], s.SentTokenHashes[i][:])
	}
	return found == 1
}

// ExampleSecrets are the secrets shipped in examples (sites.example.json,
// docker-compose): anyone can read them, so the collector refuses them
// outside dev mode.
var ExampleSecrets = []string{"change-me-example-secret-0123456789abcdef"}

// WithExampleSecrets lists the sites that use a shipped example secret.
func (r *Registry) WithExampleSecrets() []string {
	var out []string
	for _, s := range r.ordered {
		for _, ex := range ExampleSecrets {
			bad := string(s.EmailSecret) == ex
			for _, k := range s.EmailKeys {
				bad = bad || string(k.Secret) == ex
			}
			if bad {
				out = append(out, s.Domain)
				break
			}
		}
	}
	return out
}

// OwnsHost reports whether host (lower case, no port) is one of the site's.
func (s *Site) OwnsHost(host string) bool {
	for _, h := range s.Hostnames {
		if h == host {
			return true
		}
	}
	return false
}

// Registry looks sites up by domain. It is read-only after Parse, so safe for
// concurrent use.
type Registry struct {
	byDomain map[string]*Site
	ordered  []*Site
}

// Lookup finds a declared site by domain, case-insensitively.
func (r *Registry) Lookup(domain string) (*Site, bool) {
	s, ok := r.byDomain[domain]
	if !ok {
		s, ok = r.byDomain[strings.ToLower(strings.TrimSpace(domain))]
	}
	return s, ok
}

// All returns the sites in file order.
func (r *Registry) All() []*Site { return r.ordered }

type fileSite struct {
	Domain      string   `json:"domain"`
	Hostnames   []string `json:"hostnames"`
	ConsentMode string   `json:"consent_mode"`
	EmailSecret string   `json:"email_secret"`
	EmailKeys   []struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	} `json:"email_keys"`
	SentTokens []string           `json:"sent_tokens"` // "sha256:<64 hex>" of each token
	Timezone   string             `json:"timezone"`
	APITokens  []string           `json:"api_tokens"`  // "sha256:<64 hex>" of each token
	MinCountK  *int               `json:"min_count_k"` // nil: DefaultMinCountK
	PathRules  []string           `json:"path_rules"`
	Props      []string           `json:"props"`
	Goals      []goals.FileGoal   `json:"goals"`
	Funnels    []goals.FileFunnel `json:"funnels"`
}

type file struct {
	Sites []fileSite `json:"sites"`
}

// Load reads a sites file (JSON, see sites.example.json).
func Load(path string) (*Registry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open sites file: %w", err)
	}
	defer f.Close()
	r, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("cannot load sites file %s: %w", path, err)
	}
	return r, nil
}

// Parse reads sites from JSON and validates every entry.
func Parse(in io.Reader) (*Registry, error) {
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("cannot parse JSON: %w", err)
	}
	if len(f.Sites) == 0 {
		return nil, errors.New("no sites declared")
	}
	r := &Registry{byDomain: make(map[string]*Site, len(f.Sites))}
	for i, fs := range f.Sites {
		s, err := fs.site()
		if err != nil {
			return nil, fmt.Errorf("site %d (%q): %w", i+1, fs.Domain, err)
		}
		if _, dup := r.byDomain[s.Domain]; dup {
			return nil, fmt.Errorf("site %d: domain %q declared twice", i+1, s.Domain)
		}
		r.byDomain[s.Domain] = s
		r.ordered = append(r.ordered, s)
	}
	return r, nil
}

func (fs fileSite) site() (*Site, error) {
	domain := strings.ToLower(strings.TrimSpace(fs.Domain))
	if !validHost(domain) {
		return nil, errors.New("domain must be a host name like example.com")
	}
	mode, err := ParseMode(fs.ConsentMode)
	if err != nil {
		return nil, err
	}
	s := &Site{Domain: domain, Mode: mode, Hostnames: []string{domain}}
	for _, h := range fs.Hostnames {
		h = strings.ToLower(strings.TrimSpace(h))
		if !validHost(h) {
			return nil, fmt.Errorf("hostname %q is not a host name", h)
		}
		if !s.OwnsHost(h) {
			s.Hostnames = append(s.Hostnames, h)
		}
	}
	if fs.EmailSecret != "" {
		if len(fs.EmailSecret) < MinSecretLen {
			return nil, fmt.Errorf("email_secret must be at least %d characters", MinSecretLen)
		}
		s.EmailSecret = []byte(fs.EmailSecret)
	}
	for _, k := range fs.EmailKeys {
		if !pixel.ValidKeyID(k.ID) {
			return nil, fmt.Errorf("email_keys id %q must be 1 to 32 letters, digits, '-' or '_'", k.ID)
		}
		if len(k.Secret) < MinSecretLen {
			return nil, fmt.Errorf("email_keys %q: secret must be at least %d characters", k.ID, MinSecretLen)
		}
		if _, dup := s.VerifyingKey(k.ID); dup {
			return nil, fmt.Errorf("email_keys id %q declared twice", k.ID)
		}
		s.EmailKeys = append(s.EmailKeys, EmailKey{ID: k.ID, Secret: []byte(k.Secret)})
	}
	for _, t := range fs.SentTokens {
		h, err := tokenHash(t)
		if err != nil {
			return nil, fmt.Errorf("sent_tokens: %w", err)
		}
		s.SentTokenHashes = append(s.SentTokenHashes, h)
	}
	s.Location = time.UTC
	if fs.Timezone != "" {
		loc, err := time.LoadLocation(fs.Timezone)
		if err != nil {
			return nil, fmt.Errorf("timezone %q: %w", fs.Timezone, err)
		}
		s.Location = loc
	}
	for _, t := range fs.APITokens {
		h, err := tokenHash(t)
		if err != nil {
			return nil, fmt.Errorf("api_tokens: %w", err)
		}
		s.APITokenHashes = append(s.APITokenHashes, h)
	}
	s.MinCountK = DefaultMinCountK
	if fs.MinCountK != nil {
		if *fs.MinCountK < 0 {
			return nil, errors.New("min_count_k must not be negative")
		}
		s.MinCountK = *fs.MinCountK
	}
	rules, err := scrub.ParseRules(fs.PathRules)
	if err != nil {
		return nil, fmt.Errorf(`path_rules: %w (a rule is "/" and segments, each a literal or "*" for one segment, e.g. "/orders/*")`, err)
	}
	s.PathRules = rules
	if s.Conversions, err = goals.Parse(fs.Props, fs.Goals, fs.Funnels); err != nil {
		return nil, err
	}
	return s, nil
}

// tokenHash reads a "sha256:<64 hex>" token hash of the sites file.
func tokenHash(t string) ([sha256.Size]byte, error) {
	hexHash, ok := strings.CutPrefix(t, "sha256:")
	b, err := hex.DecodeString(hexHash)
	if !ok || err != nil || len(b) != sha256.Size {
		return [sha256.Size]byte{}, errors.New(`entries must be "sha256:" and the 64 hex digits of the token's SHA-256 (printf %s "$TOKEN" | sha256sum)`)
	}
	return [sha256.Size]byte(b), nil
}

// validHost accepts DNS names (letters, digits, '-', '.') and "localhost".
func validHost(h string) bool {
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Mode is a site's consent policy.
type Mode string

const (
	// ModeAnonymous (the default) records counters for every hit, and daily
	// uniques only for hits whose analytics consent is granted.
	ModeAnonymous Mode = "anonymous"
	// ModeStrict records nothing but the consent counter unless analytics
	// consent is granted.
	ModeStrict Mode = "strict"
	// ModeOptOut assumes consent unless the visitor withdrew it ("by using
	// the site you consent; you may withdraw"): counters for every hit, and
	// daily uniques unless the hit says denied (explicitly, by TCF, GPC or
	// DNT).
	ModeOptOut Mode = "optout"
)

// ParseMode reads a site mode; "" means ModeAnonymous.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", ModeAnonymous:
		return ModeAnonymous, nil
	case ModeStrict, ModeOptOut:
		return m, nil
	}
	return "", fmt.Errorf("unknown consent mode %q: want %q, %q or %q", s, ModeStrict, ModeAnonymous, ModeOptOut)
}
