package statement_test

import (
	"os"
	"strings"
	"time"

	"tally/sites"
	"tally/statement"
)

// Example prints the statement of a strict site with e-mail pixels, a
// GeoIP database and RETENTION_DROP on.
func Example() {
	reg, _ := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com","consent_mode":"strict","email_secret":"` + secret + `"}]}`))
	s, _ := reg.Lookup("example.com")
	statement.Write(os.Stdout, statement.Settings{Site: s, Regions: true, Retention: 400 * 24 * time.Hour, RetentionDrop: true, EmailWindow: 30 * 24 * time.Hour}, statement.Markdown)
	// Output:
	// ### What we record
	//
	// We measure visits to example.com with tally, a self-hosted analytics collector. It keeps only counts per hour: page views of each page, where visits came from (the referring site's name or domain, and the utm\_source, utm\_medium and utm\_campaign tags of the link), the country and region (such as a state or province) your connection comes from, the type of device, the browser and the operating system, and events such as a sign-up. Each of these is counted on its own, never in combination with the others, so that no count describes a combination of your characteristics.
	//
	// Before anything is counted, parts of page addresses, tags and event names that look like identifiers (e-mail addresses, long numbers, random tokens) are replaced by placeholders, and a referring address is reduced to the name or domain of the site.
	//
	// Visits by automated programs (search engine crawlers, link previews, prefetching) are only counted as such. The measurement sets no cookie and stores nothing on your device.
	//
	// ### Your consent
	//
	// We record your visit only if you agree to analytics: in our consent banner, or through a consent platform that signals IAB TCF purpose 8, "measure content performance". Without that agreement, or if you refuse, the only thing recorded is that a visit was made with consent refused or not given, as part of a count of consent choices.
	//
	// With your agreement, your visit is counted as described above and recognised for the rest of the day (UTC), to count unique visitors, by a keyed hash of your IP address, the site and your browser's identification. The key is random, held only in memory, and destroyed at midnight UTC together with every hash made with it, so a visit cannot be linked to another day's.
	//
	// If your browser sends Global Privacy Control or Do Not Track, you are never recognised, even if you agreed.
	//
	// ### E-mails
	//
	// Our e-mails contain a small image that tells us that an e-mail of a campaign was opened. Unless you agreed to this measurement when you subscribed, opening an e-mail only adds one to the number of openings of its campaign: nothing about you, your mail program or your location is recorded.
	//
	// If you agreed, we also count the program used to read it and the country and region (such as a state or province) the opening came from, and count your first opening of a campaign once for 30 days, by a keyed hash of the identifier in the image's address, held only in memory. The identifier itself is never stored.
	//
	// Openings by mail services that fetch every image automatically are counted apart and not as openings.
	//
	// ### What we never keep
	//
	// Your IP address is used only while your request is handled: to find your country and region and, with your agreement, for the recognition within a day described above. It is never written down, not even shortened. We never store your browser's identification string, the query part of page addresses, cookies, or anything that identifies you, your device or your e-mail address. The collector sends nothing to anyone else.
	//
	// ### How long
	//
	// The counts are deleted after 400 days, a month at a time: a month's counts are deleted once its last day is more than 400 days old. The memory that recognises visitors is destroyed every day at midnight UTC, and the memory of e-mail openings after 30 days.
	//
	// ### Who sees the counts
	//
	// No figure counting fewer than 5 visitors (or visits, where visitors are not counted) is shown, on our own dashboards or anywhere we share statistics: it is grouped with others or withheld. Statistics we share are also slightly randomised, so that comparing two of them does not reveal a withheld figure.
}
