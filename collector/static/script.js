/* tally tracker: page views, engagement (time on page, scroll depth), visits
   and bounces, SPA navigation and consent, with nothing stored on the device
   and no identifier sent. Embed:
   <script defer data-domain="example.com" src="https://HOST/js/script.js"></script>
   Optional: data-consent="granted|denied" (a server-rendered choice), and
   window.tally.consent("granted"|"denied") when your banner changes it.
   What the flags (tf) mean and how the collector counts them:
   collector/visits/doc.go. */
(function () {
  "use strict";
  var s = document.currentScript;
  if (!s) return;
  var api = s.getAttribute("data-api") || new URL("/api/event", s.src).href;
  var domain = s.getAttribute("data-domain") || location.hostname;
  var choice = s.getAttribute("data-consent") || "";
  var tcf = "";
  // tf bits, as collector/visits.Flags.
  var TRACKED = 1, RELOAD = 2, BACK_FORWARD = 4, FIRST = 8, NOT_BOUNCE = 16, NOT_EXIT = 32, RESTORED = 64;
  var cur = null; // the page view being measured
  // How the visitor is leaving the page: 0 unknown (counted as an exit),
  // 1 for another page of the site, 2 back or forward to one.
  var away = 0;

  function send(body) {
    body.d = domain;
    body.tf = (body.tf || 0) | TRACKED;
    if (choice || tcf) body.consent = { analytics: choice, tcf: tcf };
    // Automation frameworks set navigator.webdriver; the collector files
    // such hits under filtered/automation instead of counting them.
    if (navigator.webdriver) body.wd = true;
    var data = JSON.stringify(body);
    // text/plain keeps this a simple request: no CORS preflight.
    if (navigator.sendBeacon && navigator.sendBeacon(api, new Blob([data], { type: "text/plain" }))) return;
    fetch(api, { method: "POST", body: data, keepalive: true, headers: { "Content-Type": "text/plain" } }).catch(function () {});
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
      u: location.href, r: ref, path: location.pathname,
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
    if (!cur || location.pathname === cur.path) return; // hash or search change only
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

  window.tally = function (name) { send({ n: String(name), u: location.href, r: document.referrer || null }); };
  window.tally.consent = function (c) { choice = c; };

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
