// Package sites holds the declared sites: which domains the collector counts
// for, their hostnames, consent mode and email signing secret. Hits for a
// site that is not declared are refused, so nobody can fill the database with
// counters for domains the operator never configured.
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
	// EmailSecret signs email-open pixels and authenticates send reports.
	// Empty disables email for the site.
	EmailSecret []byte
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
	Timezone    string   `json:"timezone"`
	APITokens   []string `json:"api_tokens"`  // "sha256:<64 hex>" of each token
	MinCountK   *int     `json:"min_count_k"` // nil: DefaultMinCountK
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
	s.Location = time.UTC
	if fs.Timezone != "" {
		loc, err := time.LoadLocation(fs.Timezone)
		if err != nil {
			return nil, fmt.Errorf("timezone %q: %w", fs.Timezone, err)
		}
		s.Location = loc
	}
	for _, t := range fs.APITokens {
		hexHash, ok := strings.CutPrefix(t, "sha256:")
		b, err := hex.DecodeString(hexHash)
		if !ok || err != nil || len(b) != sha256.Size {
			return nil, errors.New(`api_tokens entries must be "sha256:" and the 64 hex digits of the token's SHA-256 (printf %s "$TOKEN" | sha256sum)`)
		}
		s.APITokenHashes = append(s.APITokenHashes, [sha256.Size]byte(b))
	}
	s.MinCountK = DefaultMinCountK
	if fs.MinCountK != nil {
		if *fs.MinCountK < 0 {
			return nil, errors.New("min_count_k must not be negative")
		}
		s.MinCountK = *fs.MinCountK
	}
	return s, nil
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
)

// ParseMode reads a site mode; "" means ModeAnonymous.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case "", ModeAnonymous:
		return ModeAnonymous, nil
	case ModeStrict:
		return ModeStrict, nil
	}
	return "", fmt.Errorf("unknown consent mode %q: want %q or %q", s, ModeStrict, ModeAnonymous)
}
