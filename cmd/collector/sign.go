package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"tally/collector/ingest"
	"tally/pixel"
	"tally/sites"
)

// signPixel prints a signed email-open pixel URL for one recipient.
func signPixel(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := env(getenv)
	fs := flag.NewFlagSet("collector sign-pixel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sitesFile := fs.String("sites-file", e.str("SITES_FILE", defaultSitesFile), "sites file holding the site's email secret (env SITES_FILE)")
	base := fs.String("base", e.str("PUBLIC_URL", "http://localhost:8080"), "the collector's public origin (env PUBLIC_URL)")
	site := fs.String("site", "", "site domain, as declared in the sites file (required)")
	campaign := fs.String("campaign", "", "campaign id: letters, digits, '.', '_', '-' (required)")
	recipient := fs.String("recipient", "", "opaque per-recipient token for unique opens; never an email address")
	consentBit := fs.Bool("consent", false, "the recipient consented to open tracking (strict-mode sites de-duplicate only these)")
	keyID := fs.String("key", "", "id of the site's email_keys entry to sign with; default: the newest (or email_secret when the site has no email_keys)")
	expires := fs.String("expires", "", "stop counting opens after this: a duration from now (720h) or an RFC 3339 time; default: never")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *site == "" || *campaign == "" {
		fs.Usage()
		return errors.New("sign-pixel needs -site and -campaign")
	}
	if !ingest.ValidCampaign(*campaign) {
		return ingest.ErrBadCampaign
	}
	s, key, exp, err := signingKey(*sitesFile, *site, *keyID, *expires)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pixel.EmailURL(*base, key.Secret, pixel.Claims{
		Site: s.Domain, Campaign: *campaign, Recipient: *recipient, Consent: *consentBit,
		KeyID: key.ID, Expires: exp,
	}))
	return nil
}

// signingKey finds what sign-pixel and sign-link sign with: the declared
// site, its key (the newest, or the one -key names) and the expiry of
// -expires, in unix seconds (0: never).
func signingKey(sitesFile, site, keyID, expires string) (*sites.Site, sites.EmailKey, int64, error) {
	registry, err := sites.Load(sitesFile)
	if err != nil {
		return nil, sites.EmailKey{}, 0, err
	}
	s, ok := registry.Lookup(site)
	if !ok {
		return nil, sites.EmailKey{}, 0, fmt.Errorf("site %q is not declared in %s", site, sitesFile)
	}
	key, ok := s.SigningKey()
	if keyID != "" {
		secret, found := s.VerifyingKey(keyID)
		key, ok = sites.EmailKey{ID: keyID, Secret: secret}, found
	}
	if !ok {
		return nil, sites.EmailKey{}, 0, fmt.Errorf("site %q has no email key %q in %s (email_keys or email_secret)", site, keyID, sitesFile)
	}
	exp, err := parseExpiry(expires, time.Now())
	if err != nil {
		return nil, sites.EmailKey{}, 0, err
	}
	return s, key, exp, nil
}

// parseExpiry reads -expires: "" (never), a duration from now, or an RFC
// 3339 time; the result is unix seconds.
func parseExpiry(v string, now time.Time) (int64, error) {
	if v == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(d).Unix(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || !t.After(now) {
		return 0, fmt.Errorf("-expires %q: want a positive duration (720h) or a future RFC 3339 time", v)
	}
	return t.Unix(), nil
}
