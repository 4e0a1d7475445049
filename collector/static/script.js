/* tally tracker: page views, SPA navigation and consent, nothing stored on the
   device. Embed: <script defer data-domain="example.com" src="https://HOST/js/script.js"></script>
   Optional: data-consent="granted|denied" (a server-rendered choice), and
   window.tally.consent("granted"|"denied") when your banner changes it. */
(function () {
  "use strict";
  var s = document.currentScript;
  if (!s) return;
  var api = s.getAttribute("data-api") || new URL("/api/event", s.src).href;
  var domain = s.getAttribute("data-domain") || location.hostname;
  var choice = s.getAttribute("data-consent") || "";
  var tcf = "";
  var lastPath = null;

  function send(name) {
    var body = { name: name, url: location.href, domain: domain, referrer: document.referrer || null };
    if (choice || tcf) body.consent = { analytics: choice, tcf: tcf };
    // Automation frameworks set navigator.webdriver; the collector files
    // such hits under filtered/automation instead of counting them.
    if (navigator.webdriver) body.wd = true;
    var data = JSON.stringify(body);
    // text/plain keeps this a simple request: no CORS preflight.
    if (navigator.sendBeacon && navigator.sendBeacon(api, new Blob([data], { type: "text/plain" }))) return;
    fetch(api, { method: "POST", body: data, keepalive: true, headers: { "Content-Type": "text/plain" } }).catch(function () {});
  }

  function pageview() {
    if (location.pathname === lastPath) return; // hash or search change only
    lastPath = location.pathname;
    send("pageview");
  }

  function start() {
    pageview();
    var push = history.pushState;
    history.pushState = function () { push.apply(this, arguments); pageview(); };
    addEventListener("popstate", pageview);
  }

  window.tally = function (name) { send(String(name)); };
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
