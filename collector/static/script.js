/* tally tracker: page views, engagement (time on page, scroll depth), visits
   and bounces, SPA navigation and consent, with nothing stored on the device
   and no identifier sent. Embed:
   <script defer data-domain="example.com" src="https://HOST/js/script.js"></script>
   Optional: data-consent="granted|denied" (a server-rendered choice), and
   window.tally.consent("granted"|"denied") when your banner changes it.
   Optional events, named as Plausible names them so that goals carry over
   (README, "Script tracker"): data-outbound-links, data-file-downloads
   (="pdf,zip" for other extensions), data-form-submissions, data-404,
   data-hash (hash-based routing), tagged events (class
   "tally-event-name=Signup tally-event-plan=pro"), and
   tally(name, {props, revenue, callback}), queued before the script loads.
   What the flags (tf) mean and how the collector counts them:
   collector/visits/doc.go. */
(function () {
  "use strict";
  var s = document.currentScript;
  if (!s) return;
  var api = s.getAttribute("data-api") || new URL("/api/event", s.src).href;
  var domain = s.getAttribute("data-domain") || location.hostname;
  var choice = s.getAttribute("data-consent") || "";
  var on = function (a) { return s.hasAttribute("data-" + a); };
  // Hash-based routing: the fragment is part of the page (h: 1 on every
  // request, so that the collector counts /#/about, not /).
  var hash = on("hash");
  var files = s.getAttribute("data-file-downloads");
  // Plausible's default list, so that its File Download goals carry over.
  files = files ? files.toLowerCase().split(/\s*,\s*/) : "pdf xlsx docx txt rtf csv exe key pps ppt pptx 7z pkg rar gz zip avi mov mp4 mpeg wmv midi mp3 wav wma dmg".split(" ");
  var tcf = "";
  // tf bits, as collector/visits.Flags.
  var TRACKED = 1, RELOAD = 2, BACK_FORWARD = 4, FIRST = 8, NOT_BOUNCE = 16, NOT_EXIT = 32, RESTORED = 64;
  var cur = null; // the page view being measured
  // How the visitor is leaving the page: 0 unknown (counted as an exit),
  // 1 for another page of the site, 2 back or forward to one.
  var away = 0;

  // send posts body. A beacon outlives the page, so a click that leaves it
  // (an outbound link, a download, a form) is still delivered, and no
  // navigation is ever held back. With a callback, fetch (keepalive, which
  // outlives the page too) tells the answer's status, as Plausible's does.
  function send(body, cb) {
    body.d = domain;
    body.tf = (body.tf || 0) | TRACKED;
    if (hash) body.h = 1;
    if (choice || tcf) body.consent = { analytics: choice, tcf: tcf };
    // Automation frameworks set navigator.webdriver; the collector files
    // such hits under filtered/automation instead of counting them.
    if (navigator.webdriver) body.wd = true;
    var data = JSON.stringify(body);
    // text/plain keeps this a simple request: no CORS preflight.
    if (!cb && navigator.sendBeacon && navigator.sendBeacon(api, new Blob([data], { type: "text/plain" }))) return;
    fetch(api, { method: "POST", body: data, keepalive: true, headers: { "Content-Type": "text/plain" } })
      .then(function (r) { if (cb) cb({ status: r.status }); }, function (e) { if (cb) cb({ error: e }); });
  }

  // event sends a custom event: o is {props, revenue, callback}.
  function event(name, o) {
    o = o || {};
    var b = { n: String(name), u: location.href, r: document.referrer || null };
    if (o.props) b.p = o.props;
    if (o.revenue) b.$ = o.revenue;
    send(b, o.callback);
  }

  function notFound() { event("404", { props: { path: location.pathname } }); }

  // where is the page as counted: the path, and with hash-based routing
  // the fragment too.
  function where() { return location.pathname + (hash ? location.hash : ""); }

  // tagged reads the classes "tally-event-name=Signup tally-event-plan=pro"
  // (or "--" for "=", and "+" for a space, as Plausible's) and
  // "tally-revenue-amount=9.5 tally-revenue-currency=EUR" of el: the event's
  // name, props and revenue, or nothing when el is not tagged.
  function tagged(el) {
    var t = { props: {} }, c = (el && el.classList) || [], m;
    for (var i = 0; i < c.length; i++) {
      if (!(m = /^tally-(event|revenue)-(.+?)(=|--)(.+)$/.exec(c[i]))) continue;
      var v = m[4].replace(/\+/g, " ");
      if (m[1] === "revenue") (t.revenue = t.revenue || {})[m[2]] = v;
      else if (m[2] === "name") t.name = v;
      else t.props[m[2]] = v;
    }
    return t.name && t;
  }

  // click sends what a click (or a middle click) on a link or a tagged
  // element is worth. A tagged element (up to three levels above the
  // target) sends its own event instead of an automatic one; in a tagged
  // form, submit does (so that a button counts once), while a tagged
  // button in an untagged form sends on click.
  function click(e) {
    if (e.type === "auxclick" && e.button !== 1) return;
    var t, el = e.target, a = el.closest && el.closest("a[href]");
    for (var i = 0; i <= 3 && el; i++, el = el.parentNode) {
      if (el.tagName === "FORM") { if (tagged(el)) t = 0; break; }
      t = t || tagged(el);
    }
    // The address without its query and fragment: enough for the host of
    // an outbound link and the path of a download, and no more.
    var url = a && typeof a.href == "string" && a.href.split(/[?#]/)[0], x = url && /\.(\w+)$/.exec(url);
    if (t) {
      if (url) t.props.url = url;
      event(t.name, t);
    } else if (url && on("outbound-links") && a.host && a.host !== location.host) {
      event("Outbound Link: Click", { props: { url: url } });
    } else if (x && on("file-downloads") && files.indexOf(x[1].toLowerCase()) >= 0) {
      event("File Download", { props: { url: url } });
    }
  }

  function visible() { return document.visibilityState === "visible"; }

  // Deepest point seen, in percent of the page's height (as Plausible).
  function depth() {
    var el = document.documentElement, b = document.body || {};
    var h = Math.max(el.scrollHeight, el.offsetHeight, el.clientHeight, b.scrollHeight || 0, b.offsetHeight || 0);
    var view = window.innerHeight || el.clientHeight;
    if (!h || h <= view) return 100;
    return Math.min(100, Math.round(((window.scrollY || el.scrollTop || 0) + view) / h * 100));
  }

  function external(ref) {
    try { return !ref || new URL(ref).host !== location.host; } catch (e) { return true; }
  }

  function view(ref, flags) {
    cur = {
      u: location.href, r: ref, path: where(),
      // The first page of a visit: a reload or back/forward is not one.
      entry: !(flags & (RELOAD | BACK_FORWARD)) && external(ref),
      ms: 0, since: visible() ? Date.now() : 0, sd: depth(), sent: 0, first: true, nb: false
    };
    away = 0;
    send({ n: "pageview", u: cur.u, r: ref, tf: flags });
  }

  function pause() {
    if (cur && cur.since) { cur.ms += Date.now() - cur.since; cur.since = 0; }
  }

  function resume() {
    if (cur && !cur.since && visible() && document.hasFocus()) cur.since = Date.now();
  }

  // report sends what is new of the current page. force: the page may be
  // gone next (hidden, left); otherwise (focus lost) only 3 s or more of
  // engagement or a deeper scroll are worth a request.
  function report(force, extra) {
    if (!cur) return;
    pause();
    var f = extra || 0;
    if (cur.first) f |= FIRST;
    if (away) {
      if (cur.entry && !cur.nb) { f |= NOT_BOUNCE; cur.nb = true; }
      if (away === 2) f |= NOT_EXIT;
    }
    var sd = cur.sd = Math.max(cur.sd, depth());
    if (!f && sd <= cur.sent && (force ? !cur.ms : cur.ms < 3000)) return;
    send({ n: "engagement", u: cur.u, r: cur.r, sd: sd, sp: cur.sent, e: cur.ms, tf: f });
    cur.ms = 0; cur.sent = sd; cur.first = false;
  }

  function spa() {
    if (!cur || where() === cur.path) return; // a search change (or a hash change without data-hash) only
    var prev = cur.u;
    away = 1;
    report(true);
    view(prev, 0);
  }

  function start() {
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    var type = nav && nav.type;
    view(document.referrer || null, type === "reload" ? RELOAD : type === "back_forward" ? BACK_FORWARD : 0);
    var push = history.pushState;
    history.pushState = function () { push.apply(this, arguments); spa(); };
    addEventListener("popstate", spa);
    if (hash) addEventListener("hashchange", spa);
    // A 404 page, where the browser reports the status (Chromium, Firefox);
    // elsewhere the 404 template calls tally.notFound().
    if (on("404") && nav && nav.responseStatus === 404) notFound();
    document.addEventListener("click", click);
    document.addEventListener("auxclick", click);
    // A form's submission, once the browser accepts it (not when invalid
    // fields stop it): a tagged form sends its event, another one
    // "Form: Submission" with data-form-submissions.
    document.addEventListener("submit", function (e) {
      var f = e.target, t = tagged(f);
      if (!f.noValidate && f.checkValidity && !f.checkValidity()) return;
      if (t) event(t.name, t);
      else if (on("form-submissions")) event("Form: Submission", { props: { path: location.pathname } });
    }, true);
    // Calls made before the script loaded, in their order.
    for (var i = 0; i < queue.length; i++) window.tally.apply(null, queue[i]);
    queue = [];
    addEventListener("scroll", function () { if (cur) cur.sd = Math.max(cur.sd, depth()); }, { passive: true });
    document.addEventListener("visibilitychange", function () { if (visible()) resume(); else report(true); });
    addEventListener("blur", function () { report(false); });
    addEventListener("focus", resume);
    addEventListener("pagehide", function () { report(true); });
    addEventListener("pageshow", function (e) {
      if (!e.persisted || !cur) return;
      // Shown again from the back-forward cache: the current page once
      // more. If it had been left for a page of the site, its exit was
      // taken back: assume it again.
      var back = away;
      away = 0;
      resume();
      if (back) report(true, RESTORED);
    });
    // Where the visitor goes next: the Navigation API tells; without it, a
    // plain click on a link of this host.
    if (window.navigation) {
      navigation.addEventListener("navigate", function (e) {
        if (e.destination.sameDocument || e.downloadRequest) return;
        away = !external(e.destination.url) ? (e.navigationType === "traverse" ? 2 : 1) : 0;
      });
      navigation.addEventListener("navigateerror", function () { away = 0; });
    } else {
      document.addEventListener("click", function (e) {
        var a = e.target.closest && e.target.closest("a[href]");
        if (!a || e.defaultPrevented || e.button || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || (a.target && a.target !== "_self")) return;
        away = external(a.href) ? 0 : 1;
      });
    }
  }

  // Calls made before the script loaded, with the snippet
  // window.tally = window.tally || function () { (tally.q = tally.q || []).push(arguments) };
  // they are sent after the first page view.
  var queue = (window.tally && window.tally.q) || [];
  window.tally = function (name, o) { event(name, o); };
  window.tally.consent = function (c) { choice = c; };
  window.tally.notFound = notFound;

  // Ask the page's IAB TCF v2 CMP, if there is one, before the first page
  // view; give it one second, then count without its answer.
  if (typeof window.__tcfapi === "function") {
    var started = false;
    var go = function () { if (!started) { started = true; start(); } };
    setTimeout(go, 1000);
    try {
      window.__tcfapi("addEventListener", 2, function (d, ok) {
        if (ok && d && (d.eventStatus === "tcloaded" || d.eventStatus === "useractioncomplete")) {
          tcf = d.tcString || "";
          go();
        }
      });
    } catch (e) { go(); }
  } else {
    start();
  }
})();
