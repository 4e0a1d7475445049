// Package goals says what a site counts as a conversion: its goals (an
// event name, or a page path pattern), its funnels (2 to 8 ordered steps,
// each an event or a page) and the custom property names it keeps (the
// allow-list; every other property is dropped unread).
//
// Goals, funnels and props are declared per site in the sites file (Parse,
// called by package sites). Goals may also be added and deleted by the
// admin from the dashboard: those live in ClickHouse (table goals, Store),
// so that every collector sharing the database sees them, and so that the
// sites file stays configuration a deploy owns (often read-only, kept in
// version control). Registry joins both into one Set per site, read by the
// ingest pipeline on every hit with one atomic load, and reloaded from the
// store after each edit and every minute (edits made through another
// collector).
//
// A goal counts from the moment it exists: the collector keeps no events
// to replay, so a goal added today has no conversions for yesterday
// (Plausible's are retroactive because it stores every event).
//
// Page patterns (Pattern) are Plausible's: "*" stands for any characters
// within one path segment, "**" for any characters across segments;
// everything else is literal. "/thank-you*" matches /thank-you and
// /thank-you-2 but not /thank-you/again; "/blog/**" matches every page
// under /blog/.
package goals
