// Package visits owns the rules that turn single hits into visit and
// engagement counters without any identifier: no hash, no cookie, nothing
// stored on the device, and nothing in the collector that links one
// request to another. Every figure is a sum of additive counters
// (counter.WebCounts) that one request, or one page, can state on its own;
// a later hit may take back what an earlier one assumed (the counters are
// signed), never look it up.
//
// The package is pure: ingest calls it with what a hit says and adds what
// it returns to the hit's counter rows.
//
// # Visits and entry pages
//
// A page view whose referrer is empty, or names a host that is not one of
// the site's hostnames, starts a visit (Arrive returns Entry): it adds 1 to
// Visits in every dimension row of the page view. Its path row's Visits
// are therefore the page's entries, its source row's the visits from that
// source. A page view whose referrer is another page of the site is a step
// inside a visit (Step). A hit that cannot know its referrer (the no-script
// pixel without r=) adds nothing to the visit counters (Unknown).
//
// Views per visit is Pageviews / Visits. It is exact for sites whose every
// page view knows its referrer (a script), and reads high where the pixel
// counts page views without one.
//
// # Exits: assumed, then taken back
//
// Every page view that knows its referrer adds 1 to Exits on its path row:
// it is assumed to be the last page of its visit. A later page view whose
// referrer is page X of the site takes that back (Exits -1 on X's path
// row): X was not an exit. This referrer chain needs nothing from the page
// and so works for every sender (our tracker, Plausible's, a pixel with
// r=). What it cannot see it gets wrong, which is why exits without our
// tracker are an estimate:
//   - going back to an earlier page (the page is not loaded again, or is
//     loaded with its original referrer): the page left is counted as an
//     exit, not the page the visitor leaves from later;
//   - a link opened in a new tab takes back its page once per tab;
//   - Plausible's tracker sends the landing page's referrer with every
//     single-page-app navigation, so each one looks like a new visit.
//
// Our tracker closes those gaps from inside the page (Flags):
//   - a reload or back/forward load says so (Reload, BackForward): not a
//     new visit even when its referrer is external, and not a step (its
//     referrer is not the page before it). A reload also takes back the
//     exit assumed for the page it reloads, which was its predecessor;
//   - a page left by going back or forward to another page of the site
//     (the Navigation API says so) takes back its own exit (NotExit);
//   - a page shown again from the back-forward cache is the visitor's
//     current page once more: its exit is assumed again (Restored), after
//     a later page or NotExit had taken it back;
//   - single-page-app navigations are page views whose referrer is the
//     previous address of the app, so the chain works inside the app too.
//
// # Bounces
//
// A bounce is a visit of one page view. Nothing outside the page knows
// whether the entry page was followed by another page of the same visit
// (the next page view names its referrer, but not whether that was the
// entry), so bounces are counted only where our tracker runs:
//   - a page view of our tracker that starts a visit adds 1 to Bounces and
//     to TrackedVisits in every dimension row: the visit is assumed to be a
//     bounce, and TrackedVisits is the bounce rate's denominator;
//   - the entry page knows it is one (its referrer is empty or external,
//     and it was not reloaded). When it is left for another page of the
//     site in the same tab (a link of the site, a form to the site, a
//     reload, back or forward to a page of the site, or a single-page-app
//     navigation), its engagement report says so once (NotBounce): Bounces
//     -1 in every dimension row of the entry page view, which the report
//     names again (its address and referrer; the client's region, agent
//     and language are those of the page view). The collector applies it
//     only when the report's referrer starts a visit by its own rule, so a
//     page the tracker takes for an entry and the collector does not (a
//     site with several hostnames) takes nothing back.
//
// The bounce rate is Bounces / TrackedVisits; without our tracker (the
// official Plausible tracker, pixels) it is not measured.
//
// # Engagement: time on page, scroll depth, visit duration
//
// Engagement reports are Plausible's "engagement" event (n, u, d, sd, e),
// which both its tracker and ours send when a page is hidden, loses focus
// or is left by a single-page-app navigation. They are never a page view
// nor a custom event; they add to the page's path row and the total row:
//   - EngagedMS: e, the time the page was visible and focused since the
//     page's previous report (Plausible's meaning), so the reports of one
//     page view sum to its engaged time;
//   - EngagedViews: 1 for each page view of a script that reports
//     engagement (added with the page view: our tracker, and Plausible's,
//     which sends its version as v), the denominator of time on page
//     (EngagedMS / EngagedViews);
//   - ScrollSum and ScrollViews: sd is the deepest scroll so far in
//     percent. Our tracker also sends the depth it reported before (sp)
//     and marks a page view's first report (First), so its page views add
//     their deepest scroll once: exact. Plausible's reports carry no such
//     marks, so each one adds sd and counts one (an estimate that reads
//     low: earlier reports of a page scrolled further count too).
//
// Visit duration is the total row's EngagedMS / Visits: engaged time, not
// the wall-clock time between a visit's first and last hit, which cannot be
// known without linking them.
//
// What is lost: a report the browser never sends (the page is killed
// without being hidden first) is missing from EngagedMS; a NotBounce never
// sent leaves a bounce counted. The tracker sends reports with
// navigator.sendBeacon, which browsers deliver after the page is gone.
package visits
