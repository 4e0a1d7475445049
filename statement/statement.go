package statement

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"tally/sites"
)

// Settings are what the statement is made from.
type Settings struct {
	Site *sites.Site
	// Regions: a GeoIP database is configured, so country and region are
	// recorded; without one, no location is.
	Regions bool
	// Retention is how far back dashboards may reach (RETENTION); with
	// RetentionDrop, older whole months are deleted.
	Retention     time.Duration
	RetentionDrop bool
	// EmailWindow is how long a recipient's first open is remembered
	// (EMAIL_WINDOW).
	EmailWindow time.Duration
}

// Format is an output format.
type Format string

const (
	Markdown Format = "markdown"
	HTML     Format = "html"
)

// ParseFormat reads a format name; "" is Markdown.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(strings.TrimSpace(s))) {
	case "", Markdown, "md":
		return Markdown, nil
	case HTML:
		return HTML, nil
	}
	return "", fmt.Errorf("unknown format %q: want %q or %q", s, Markdown, HTML)
}

// section is a heading and its paragraphs, in plain text.
type section struct {
	heading string
	paras   []string
}

// Write prints the statement in format f.
func Write(w io.Writer, s Settings, f Format) error {
	if s.Site == nil {
		return fmt.Errorf("statement: no site")
	}
	secs := build(s)
	var b strings.Builder
	for i, sec := range secs {
		switch f {
		case HTML:
			fmt.Fprintf(&b, "<h3>%s</h3>\n", html.EscapeString(sec.heading))
			for _, p := range sec.paras {
				fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(p))
			}
		case Markdown:
			if i > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "### %s\n", escapeMarkdown(sec.heading))
			for _, p := range sec.paras {
				fmt.Fprintf(&b, "\n%s\n", escapeMarkdown(p))
			}
		default:
			return fmt.Errorf("statement: unknown format %q", f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// build chooses the sentences.
func build(s Settings) []section {
	site := s.Site
	email := false
	if _, ok := site.SigningKey(); ok {
		email = true
	}
	location := "the country and region (such as a state or province) your connection comes from"
	if !s.Regions {
		location = ""
	}

	var secs []section

	// What is recorded.
	recorded := "We measure visits to " + site.Domain + " with tally, a self-hosted analytics collector. " +
		"It keeps only counts per hour: page views of each page, where visits came from (the referring site's name or domain, " +
		"and the utm_source, utm_medium and utm_campaign tags of the link), "
	if location != "" {
		recorded += location + ", "
	}
	recorded += "the type of device, the browser and the operating system, and events such as a sign-up. " +
		"Each of these is counted on its own, never in combination with the others, so that no count describes a combination of your characteristics."
	if location == "" {
		recorded += " Your location is not recorded."
	}
	scrubbed := "Before anything is counted, parts of page addresses, tags and event names that look like identifiers " +
		"(e-mail addresses, long numbers, random tokens) are replaced by placeholders, and a referring address is reduced to the name or domain of the site."
	if rules := site.PathRules.Patterns(); len(rules) > 0 {
		scrubbed += " Parts of page addresses matching " + strings.Join(rules, ", ") + " are replaced too."
	}
	secs = append(secs, section{"What we record", []string{
		recorded, scrubbed,
		"Visits by automated programs (search engine crawlers, link previews, prefetching) are only counted as such. " +
			"The measurement sets no cookie and stores nothing on your device.",
	}})

	// Consent.
	recognise := "recognised for the rest of the day (UTC), to count unique visitors, by a keyed hash of your IP address, the site and your browser's identification. " +
		"The key is random, held only in memory, and destroyed at midnight UTC together with every hash made with it, so a visit cannot be linked to another day's."
	optOut := "If your browser sends Global Privacy Control or Do Not Track, you are never recognised, even if you agreed."
	var consent []string
	switch site.Mode {
	case sites.ModeStrict:
		consent = []string{
			"We record your visit only if you agree to analytics: in our consent banner, or through a consent platform that signals IAB TCF purpose 8, \"measure content performance\". " +
				"Without that agreement, or if you refuse, the only thing recorded is that a visit was made with consent refused or not given, as part of a count of consent choices.",
			"With your agreement, your visit is counted as described above and " + recognise,
			optOut,
		}
	default:
		consent = []string{
			"Without your agreement to analytics, your visit is still counted as described above, anonymously: nothing is computed that could recognise you, not even for a day.",
			"If you agree to analytics (in our consent banner, or through a consent platform that signals IAB TCF purpose 8, \"measure content performance\"), your visit is also " + recognise,
			optOut,
		}
	}
	secs = append(secs, section{"Your consent", consent})

	// E-mail.
	if email {
		window := days(s.EmailWindow)
		var paras []string
		openInfo := "the program used to read it"
		if location != "" {
			openInfo += " and " + strings.Replace(location, "your connection comes", "the opening came", 1)
		}
		switch site.Mode {
		case sites.ModeStrict:
			paras = []string{
				"Our e-mails contain a small image that tells us that an e-mail of a campaign was opened. " +
					"Unless you agreed to this measurement when you subscribed, opening an e-mail only adds one to the number of openings of its campaign: nothing about you, your mail program or your location is recorded.",
				"If you agreed, we also count " + openInfo + ", and count your first opening of a campaign once for " + window + ", by a keyed hash of the identifier in the image's address, held only in memory. The identifier itself is never stored.",
			}
		default:
			paras = []string{
				"Our e-mails contain a small image that tells us that an e-mail of a campaign was opened. We count openings per campaign, with " + openInfo + ".",
				"Where the image's address carries an identifier of the recipient, it is used only to count each recipient's first opening of a campaign once, for " + window + ", as a keyed hash held only in memory. The identifier itself is never stored.",
			}
		}
		paras = append(paras, "Openings by mail services that fetch every image automatically are counted apart and not as openings.")
		secs = append(secs, section{"E-mails", paras})
	}

	// Never kept.
	ip := "Your IP address is used only while your request is handled: "
	if location != "" {
		ip += "to find your country and region and, "
	}
	ip += "with your agreement, for the recognition within a day described above. It is never written down, not even shortened."
	secs = append(secs, section{"What we never keep", []string{
		ip + " We never store your browser's identification string, the query part of page addresses, cookies, or anything that identifies you, your device or your e-mail address. " +
			"The collector sends nothing to anyone else.",
	}})

	// How long.
	var keep string
	if s.RetentionDrop {
		keep = "The counts are deleted after " + days(s.Retention) + ", a month at a time: a month's counts are deleted once its last day is more than " + days(s.Retention) + " old."
	} else {
		keep = "The counts can be viewed for " + days(s.Retention) + "; they are not deleted automatically."
	}
	keep += " The memory that recognises visitors is destroyed every day at midnight UTC"
	if email {
		keep += ", and the memory of e-mail openings after " + days(s.EmailWindow)
	}
	keep += "."
	secs = append(secs, section{"How long", []string{keep}})

	// Who sees what: k.
	var k string
	if site.MinCountK > 0 {
		k = fmt.Sprintf("No figure counting fewer than %d visitors (or visits, where visitors are not counted) is shown, on our own dashboards or anywhere we share statistics: it is grouped with others or withheld.", site.MinCountK)
	} else {
		k = fmt.Sprintf("Our own dashboard shows exact counts; wherever we share statistics, no figure counting fewer than %d visitors (or visits, where visitors are not counted) is shown: it is grouped with others or withheld.", site.SharedK())
	}
	k += " Statistics we share are also slightly randomised, so that comparing two of them does not reveal a withheld figure."
	secs = append(secs, section{"Who sees the counts", []string{k}})
	return secs
}

// days writes a duration in days, or hours when it is not whole days.
func days(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d == 24*time.Hour:
		return "1 day"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d == time.Hour:
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", d/time.Hour)
}

// markdownSpecial are the characters that could start markup in a
// paragraph; each is escaped with a backslash.
var markdownSpecial = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `#`, `\#`, `|`, `\|`, `!`, `\!`, `&`, `&amp;`,
)

func escapeMarkdown(s string) string { return markdownSpecial.Replace(s) }
