package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"tally/collector/geo"
	"tally/collector/uniques"
	"tally/dashboards"
	"tally/sites"
	"tally/statement"
)

// printStatement prints the analytics paragraph of a site's privacy
// policy (collector statement -site example.com [-format html]). It reads
// every setting exactly as the server does (flags and environment), so
// that the text describes the configuration the server runs with.
func printStatement(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("collector statement", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, check := bindConfig(fs, getenv)
	site := fs.String("site", "", "site domain, as declared in the sites file (required)")
	format := fs.String("format", string(statement.Markdown), "markdown or html")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := check(); err != nil {
		return err
	}
	if *site == "" {
		return errors.New("statement needs -site")
	}
	f, err := statement.ParseFormat(*format)
	if err != nil {
		return err
	}
	registry, err := sites.Load(cfg.SitesFile)
	if err != nil {
		return err
	}
	s, ok := registry.Lookup(*site)
	if !ok {
		return fmt.Errorf("site %q is not declared in %s", *site, cfg.SitesFile)
	}
	// A GEOIP_DB the server could not open stops it; the statement is of
	// a configuration that runs.
	if cfg.GeoIPDB != "" {
		loc, err := geo.Open(cfg.GeoIPDB)
		if err != nil {
			return fmt.Errorf("cannot open GeoIP database: %w", err)
		}
		loc.Close()
	}
	retention := cfg.Retention
	if retention <= 0 {
		retention = dashboards.DefaultRetention // as the dashboards read it
	}
	window := cfg.EmailWindow
	if window <= 0 {
		window = uniques.DefaultOpenWindow // as uniques.NewOpens reads it
	}
	return statement.Write(stdout, statement.Settings{
		Site: s, Regions: cfg.GeoIPDB != "", Retention: retention, RetentionDrop: cfg.RetentionDrop, EmailWindow: window,
	}, f)
}
