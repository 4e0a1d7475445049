package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

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
	registry, err := sites.Load(*sitesFile)
	if err != nil {
		return err
	}
	s, ok := registry.Lookup(*site)
	if !ok {
		return fmt.Errorf("site %q is not declared in %s", *site, *sitesFile)
	}
	if len(s.EmailSecret) == 0 {
		return fmt.Errorf("site %q has no email_secret in %s", *site, *sitesFile)
	}
	fmt.Fprintln(stdout, pixel.EmailURL(*base, s.EmailSecret, pixel.Claims{
		Site: s.Domain, Campaign: *campaign, Recipient: *recipient, Consent: *consentBit,
	}))
	return nil
}
