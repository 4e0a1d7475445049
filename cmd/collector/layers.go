package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"tally/collector/netclass"
	"tally/collector/spam"
)

// layersConfig are the settings of the bot-filtering layers that read
// lists (collector/netclass, collector/spam). Flags with environment
// fallbacks, as in config.go; the README's table lists them.
type layersConfig struct {
	DataCentreRanges  string // comma-separated CIDR files
	DataCentreASNDB   string // comma-separated ip-location-db ASN CSV files
	DataCentreDefault bool   // the embedded hosting ranges
	ReferrerSpamList  string // comma-separated spam host files
}

// bindLayers defines the layers' flags on fs; it returns the problems of
// invalid environment values.
func bindLayers(fs *flag.FlagSet, getenv env, c *layersConfig) (errs []string) {
	str := func(p *string, name, help string) {
		fs.StringVar(p, flagName(name), getenv(name), help+" (env "+name+")")
	}
	str(&c.DataCentreRanges, "DATACENTER_RANGES",
		"comma-separated files of data-centre CIDR ranges, one range or address a line, # comments; hits from them are filtered as datacenter; re-read on SIGHUP")
	str(&c.DataCentreASNDB, "DATACENTER_ASN_DB",
		"comma-separated asn-ipv4.csv / asn-ipv6.csv of the npm package @ip-location-db/asn, used instead of the embedded copy; only the hosting networks listed in collector/netclass are kept; re-read on SIGHUP")
	c.DataCentreDefault = true
	if raw := getenv("DATACENTER_DEFAULT"); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			errs = append(errs, fmt.Sprintf("DATACENTER_DEFAULT: %v", err))
		}
		c.DataCentreDefault = v
	}
	fs.BoolVar(&c.DataCentreDefault, flagName("DATACENTER_DEFAULT"), c.DataCentreDefault,
		"filter hits from the embedded ranges of hosting networks; false: only DATACENTER_RANGES and DATACENTER_ASN_DB (env DATACENTER_DEFAULT) (default true)")
	str(&c.ReferrerSpamList, "REFERRER_SPAM_LIST",
		"comma-separated files of referrer spam hosts (one a line, # comments, as Matomo's spammers.txt), added to the embedded list; re-read on SIGHUP")
	return errs
}

// layers are the bot-filtering lists the operator may change while the
// collector runs.
type layers struct {
	dataCentres *netclass.Classifier
	spam        *spam.List
}

// buildLayers loads every list; an error names the bad file and line,
// never a line's content.
func buildLayers(c layersConfig) (layers, error) {
	dc, err := netclass.New(netclass.Options{
		CIDRFiles: fileList(c.DataCentreRanges),
		ASNFiles:  fileList(c.DataCentreASNDB),
		NoDefault: !c.DataCentreDefault,
	})
	if err != nil {
		return layers{}, fmt.Errorf("cannot load data-centre ranges: %w", err)
	}
	sp, err := spam.New(spam.Options{Files: fileList(c.ReferrerSpamList)})
	if err != nil {
		return layers{}, fmt.Errorf("cannot load referrer spam list: %w", err)
	}
	return layers{dataCentres: dc, spam: sp}, nil
}

// fileList splits a comma-separated list of paths, dropping empty items.
func fileList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
