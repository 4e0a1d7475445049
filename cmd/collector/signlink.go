package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"tally/collector/ingest"
	"tally/pixel"
)

// signedLinks is sign-link's output: each link's URL in the order given,
// and the honeypot's URL and markup when asked for.
type signedLinks struct {
	Links        []signedLink `json:"links"`
	Honeypot     string       `json:"honeypot,omitempty"`
	HoneypotHTML string       `json:"honeypot_html,omitempty"`
}

type signedLink struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// signLink prints signed click links for one recipient of one message:
// every -link LABEL=DESTINATION, each signed with the message's link
// count, and with -honeypot the hidden link that only machines follow.
func signLink(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := env(getenv)
	fs := flag.NewFlagSet("collector sign-link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sitesFile := fs.String("sites-file", e.str("SITES_FILE", defaultSitesFile), "sites file holding the site's email keys (env SITES_FILE)")
	base := fs.String("base", e.str("PUBLIC_URL", "http://localhost:8080"), "the collector's public origin (env PUBLIC_URL)")
	site := fs.String("site", "", "site domain, as declared in the sites file (required)")
	campaign := fs.String("campaign", "", "campaign id: letters, digits, '.', '_', '-' (required)")
	recipient := fs.String("recipient", "", "opaque per-recipient token for unique clicks; never an email address")
	consentBit := fs.Bool("consent", false, "the recipient consented to tracking (strict-mode sites recognise only these)")
	keyID := fs.String("key", "", "id of the site's email_keys entry to sign with; default: the newest (or email_secret)")
	expires := fs.String("expires", "", "after this a link leads to the site's home page: a duration from now (720h) or an RFC 3339 time; default: never")
	honeypot := fs.Bool("honeypot", false, "also sign the message's honeypot link (label hp, to the site's home page), printed as the hidden HTML anchor to put in the message")
	asJSON := fs.Bool("json", false, "print JSON: {\"links\":[{\"label\",\"url\"}],\"honeypot\",\"honeypot_html\"}")
	type labelled struct{ label, dest string }
	var links []labelled
	fs.Func("link", "LABEL=DESTINATION, once per tracked link of the message (required): the label names the link in reports, the destination is an http(s) URL", func(v string) error {
		label, dest, ok := strings.Cut(v, "=")
		if !ok {
			return errors.New("want LABEL=DESTINATION")
		}
		if !pixel.ValidLabel(label) {
			return pixel.ErrLabel
		}
		if err := pixel.ValidDestination(dest); err != nil {
			return err
		}
		links = append(links, labelled{label, dest})
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *site == "" || *campaign == "" || len(links) == 0 {
		fs.Usage()
		return errors.New("sign-link needs -site, -campaign and at least one -link")
	}
	if !ingest.ValidCampaign(*campaign) {
		return ingest.ErrBadCampaign
	}
	s, key, exp, err := signingKey(*sitesFile, *site, *keyID, *expires)
	if err != nil {
		return err
	}
	common := pixel.Link{Site: s.Domain, Campaign: *campaign, Recipient: *recipient, Consent: *consentBit,
		KeyID: key.ID, Expires: exp, Links: len(links)}
	var out signedLinks
	for _, l := range links {
		link := common
		link.Label, link.Destination = l.label, l.dest
		u, err := pixel.ClickURL(*base, key.Secret, link)
		if err != nil {
			return fmt.Errorf("cannot sign link %s: %w", l.label, err)
		}
		out.Links = append(out.Links, signedLink{Label: l.label, URL: u})
	}
	if *honeypot {
		hp := common
		hp.Label, hp.Destination, hp.Honeypot = "hp", "https://"+s.Domain+"/", true
		u, err := pixel.ClickURL(*base, key.Secret, hp)
		if err != nil {
			return fmt.Errorf("cannot sign the honeypot: %w", err)
		}
		out.Honeypot, out.HoneypotHTML = u, pixel.HoneypotHTML(u)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	for _, l := range out.Links {
		fmt.Fprintf(stdout, "%s %s\n", l.Label, l.URL)
	}
	if out.HoneypotHTML != "" {
		fmt.Fprintf(stdout, "hp %s\n", out.HoneypotHTML)
	}
	return nil
}
