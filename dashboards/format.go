package dashboards

import (
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"strconv"
	"strings"

	"tally/counter"
	"tally/dashboards/regions"
	"tally/dashboards/stats"
)

// formatInt writes n with thousands separators: 1234567 -> "1,234,567".
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatPct writes a ratio as a percentage: 0.253 -> "25.3%".
func formatPct(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return strconv.FormatFloat(r*100, 'f', 1, 64) + "%"
}

// change describes cur against prev for a figure's comparison badge.
type change struct {
	Text  string
	Class string // up, down, flat
}

func compare(cur, prev int64) change {
	switch {
	case prev == 0 && cur == 0:
		return change{Text: "no change", Class: "flat"}
	case prev == 0:
		return change{Text: "new", Class: "up"}
	}
	d := float64(cur-prev) / float64(prev)
	switch {
	case math.Abs(d) < 0.0005:
		return change{Text: "±0%", Class: "flat"}
	case d > 0:
		return change{Text: "+" + strconv.FormatFloat(d*100, 'f', 0, 64) + "%", Class: "up"}
	default:
		return change{Text: "−" + strconv.FormatFloat(-d*100, 'f', 0, 64) + "%", Class: "down"}
	}
}

// valueLabel is how a stored value reads in a table.
func valueLabel(dim, value string) string {
	switch {
	case value == "" && dim == counter.DimSource:
		return "(direct / none)"
	case value == "" && (dim == counter.DimCountry || dim == counter.DimRegion || dim == counter.DimClient):
		return "(unknown)"
	case value == "":
		return "(none)"
	case dim == counter.DimCountry:
		return regions.Country(value)
	case dim == counter.DimRegion:
		return regions.Subdivision(value)
	case dim == counter.DimLanguage:
		if n, ok := languageNames[value]; ok {
			return n
		}
	case dim == counter.DimFiltered && filteredWords[value] != "":
		return filteredWords[value]
	case dim == counter.DimChannel && channelWords[value] != "":
		return channelWords[value]
	case dim == counter.DimLink:
		return linkLabel(value)
	case dim == counter.DimMachine:
		return machineLabel(value)
	}
	return value
}

// formatSeconds writes a duration in seconds as people read it: "42 s",
// "3 min 05 s".
func formatSeconds(s float64) string {
	n := int64(math.Round(s))
	if n < 60 {
		return strconv.FormatInt(n, 10) + " s"
	}
	return fmt.Sprintf("%d min %02d s", n/60, n%60)
}

func orDash(f *float64, format func(float64) string) string {
	if f == nil {
		return "–"
	}
	return format(*f)
}

// compareRate is compare for two rates (nil when unknown).
func compareRate(cur, prev *float64) *change {
	if cur == nil || prev == nil {
		return nil
	}
	c := compare(int64(math.Round(*cur*1e6)), int64(math.Round(*prev*1e6)))
	return &c
}

// filteredWords say why hits were filtered, by the "filtered" counter's
// value (the reasons of collector/useragent, netclass and spam, and
// prefetch). The stored value stays in the row's tooltip.
var filteredWords = map[string]string{
	"no_user_agent":      "No User-Agent header",
	"invalid_user_agent": "Unreadable User-Agent (too long, binary, control characters)",
	"ai_agent":           "AI crawlers, agents and assistants",
	"automation":         "Headless or automated browsers",
	"crawler":            "Listed crawlers",
	"not_browser":        "HTTP libraries, apps' HTTP clients, agents no browser sends",
	"request_shape":      "Browser agent without the headers every browser sends",
	"datacenter":         "From a cloud or hosting network",
	"referrer_spam":      "Known spam referrer",
	"prefetch":           "Prefetches: pages loaded ahead, not (yet) viewed",
}

// channelWords name the channels of collector/channel; the README's
// channel table says what each holds.
var channelWords = map[string]string{
	"direct":   "Direct",
	"search":   "Search",
	"social":   "Social",
	"ai":       "AI assistants",
	"email":    "Email",
	"paid":     "Paid",
	"referral": "Referral",
}

var funcs = template.FuncMap{
	"num":         formatInt,
	"pct":         formatPct,
	"compare":     compare,
	"compareRate": compareRate,
	// Rates are *float64: nil (unknown or withheld) reads "–".
	"secs": func(f *float64) string { return orDash(f, formatSeconds) },
	"rate": func(f *float64) string { return orDash(f, formatPct) },
	"dec": func(f *float64) string {
		return orDash(f, func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) })
	},
	"mod": func(a, b int) int { return a % b },
	// withheld says whether a visit counter of c is withheld on its own.
	"withheld": func(c stats.WebCounts, field string) bool {
		for _, f := range c.Counts() {
			if b, _ := f.Field.MarshalJSON(); string(b) == `["`+field+`"]` {
				return c.Withheld&f.Field != 0
			}
		}
		return false
	},
	// cells hands a card and one of its rows to the "cells" template.
	"cells": func(card, row any) map[string]any { return map[string]any{"Card": card, "Row": row} },
	"depth": func(f *float64) string {
		return orDash(f, func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + "%" })
	},
	"ratio": func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	},
}

// parseTemplates parses every page with the shared layout, once.
func parseTemplates() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("cannot list templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("cannot parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}
