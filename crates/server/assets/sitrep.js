// sitrep UI glue: send the CSRF token with every htmx request (forms carry it too).
document.addEventListener("htmx:configRequest", function (e) {
  var m = document.querySelector('meta[name="csrf-token"]');
  if (m) { e.detail.headers["X-CSRF-Token"] = m.content; }
});

// Live incident page: it listens to the API's event stream (the session cookie
// authenticates it). Every event refreshes the timeline fragment and the page's live
// regions (status and buttons, steps, approvals, runs, alerts, checklist, action items:
// the elements marked data-live-region), re-read from the page itself so they render
// exactly as a reload would. Polling the timeline every 10 s stays as a fallback for
// proxies that buffer streams.
var LIVE_KINDS = ["incident.declared", "incident.acknowledged", "incident.mitigated",
  "incident.resolved", "incident.reopened", "incident.severity-changed",
  "incident.role-assigned", "incident.note", "incident.runbook-attached", "alert.firing",
  "alert.resolved", "step.run", "step.refused", "step.skipped", "step.interrupted",
  "evidence.captured", "evidence.expired", "evidence.held", "evidence.released",
  "evidence.lost", "checklist.ticked", "checklist.unticked", "action.added", "action.done",
  "approval.requested", "approval.granted", "page.attempt", "page.delivered", "page.failed",
  "reminder.due", "page.escalated", "page.requested", "silence.created", "postmortem.edited",
  "thresholds.checked"];

// Replaces each live region that changed with its fresh copy. A region holding the
// control someone is typing in is left alone, so a refresh never eats their input.
function refreshRegions() {
  fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
    .then(function (r) { return r.ok ? r.text() : null; })
    .then(function (html) {
      if (!html) { return; }
      var fresh = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("[data-live-region]").forEach(function (old) {
        var next = fresh.getElementById(old.id);
        var typing = document.activeElement;
        if (!next || old.innerHTML === next.innerHTML) { return; }
        if (typing && old.contains(typing) && typing.matches("input[type=text], textarea, select")) { return; }
        var node = document.importNode(next, true);
        old.replaceWith(node);
        htmx.process(node);
      });
      document.body.dataset.liveRefreshed = String(Date.now());
    })
    .catch(function () { /* the next event or the poll tries again */ });
}

document.addEventListener("DOMContentLoaded", function () {
  var tl = document.getElementById("timeline");
  if (!tl || !tl.dataset.events || !window.EventSource) { return; }
  var source = new EventSource(tl.dataset.events);
  var pending = false;
  var refresh = function () {
    // Bursts of events (a section run) become one refresh.
    if (pending) { return; }
    pending = true;
    setTimeout(function () {
      pending = false;
      htmx.trigger(tl, "refresh");
      refreshRegions();
    }, 150);
  };
  LIVE_KINDS.forEach(function (k) { source.addEventListener(k, refresh); });
  // After a dropped connection the stream replays what was missed; the regions are
  // re-read once too, in case the replay held nothing they show.
  var opened = false;
  source.addEventListener("open", function () { if (opened) { refresh(); } opened = true; });
  tl.dataset.live = "sse";
});

// The incident list follows new incidents: a list marked data-poll re-reads itself
// (the same URL, so the same filters) every 10 s. There is no list-wide event stream.
document.addEventListener("DOMContentLoaded", function () {
  var list = document.querySelector("[data-poll]");
  if (!list) { return; }
  setInterval(function () {
    if (document.hidden) { return; }
    fetch(window.location.pathname + window.location.search, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var next = new DOMParser().parseFromString(html, "text/html").getElementById(list.id);
        if (next && next.innerHTML !== list.innerHTML) { list.innerHTML = next.innerHTML; }
      })
      .catch(function () {});
  }, Number(list.dataset.poll) || 10000);
});

// A control marked data-dialog="ID" (the Run… buttons) opens that dialog once its htmx
// request has filled it. This lived in an hx-on attribute, which is inline script: the
// Content-Security-Policy blocks it, and htmx runs with allowEval off.
document.addEventListener("htmx:afterRequest", function (e) {
  var id = e.detail.elt && e.detail.elt.dataset ? e.detail.elt.dataset.dialog : null;
  var dialog = id ? document.getElementById(id) : null;
  if (dialog && !dialog.open) { dialog.showModal(); }
});
// A live refresh can replace the Run… button while its request is in flight: htmx then
// tells a still-attached ancestor, which names no dialog. So content swapped into a
// dialog opens that dialog too.
document.addEventListener("htmx:afterSwap", function (e) {
  var t = e.detail.target;
  var dialog = t && t.closest ? t.closest("dialog") : null;
  if (dialog && !dialog.open) { dialog.showModal(); }
});

// htmx swaps no 4xx or 5xx response, so a refused plan or run (no role, an unknown step,
// a value the server refuses) left the run dialog empty. The dialog shows the
// error page's heading and message instead (as text), which say what went wrong and why.
document.addEventListener("htmx:beforeSwap", function (e) {
  var d = e.detail;
  if (!d.xhr || d.xhr.status < 400 || !d.target || d.target.id !== "dialog-body") { return; }
  var page = new DOMParser().parseFromString(d.serverResponse || "", "text/html");
  var heading = page.getElementById("error-heading");
  var message = page.getElementById("error-message");
  var box = document.createElement("div");
  box.className = "flash error dialog-error";
  box.setAttribute("role", "alert");
  var h = document.createElement("h3");
  h.id = "dialog-title";
  h.textContent = heading ? heading.textContent : "That did not work";
  var p = document.createElement("p");
  p.textContent = (message ? message.textContent : "") + " (HTTP " + d.xhr.status + ")";
  box.appendChild(h);
  box.appendChild(p);
  d.serverResponse = box.outerHTML;
  d.shouldSwap = true;
  d.isError = false;
});

// Ages and elapsed times stay current without a reload: `data-ago` holds a time in
// milliseconds ("12 min ago"), `data-elapsed-since` the start of a running step (seconds).
function span(ms) {
  var s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) { return s + " s"; }
  if (s < 3600) { return Math.floor(s / 60) + " min"; }
  if (s < 86400) { return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min"; }
  return Math.floor(s / 86400) + " d " + Math.floor(s % 86400 / 3600) + " h";
}
function tick() {
  var now = Date.now();
  document.querySelectorAll("[data-ago]").forEach(function (e) {
    e.textContent = span(now - Number(e.dataset.ago)) + " ago";
  });
  document.querySelectorAll("[data-elapsed-since]").forEach(function (e) {
    if (!e.dataset.elapsedSince) { return; }
    e.textContent = String(Math.max(0, Math.floor((now - Number(e.dataset.elapsedSince)) / 1000)));
  });
}
document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });

// While a confirmed run is under way, its dialog counts the seconds (the request
// returns when the step ends).
document.addEventListener("htmx:beforeRequest", function (e) {
  var counter = e.detail.elt.querySelector && e.detail.elt.querySelector("[data-elapsed-since]");
  if (counter) { counter.dataset.elapsedSince = String(Date.now()); }
});

// Times in the timeline are rendered in UTC (the server does not know the reader's
// zone); here they become local time, with UTC kept on hover.
function localTimes(root) {
  (root || document).querySelectorAll("time[data-local]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) { return; }
    t.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    t.removeAttribute("data-local");
  });
}
document.addEventListener("DOMContentLoaded", function () { localTimes(); });
document.addEventListener("htmx:afterSettle", function (e) { localTimes(e.detail.elt); });

// The timeline filters: one kind at a time (notes, runs, alerts, paging) or all. The
// choice lives on #timeline, which keeps it across live refreshes of its content.
document.addEventListener("click", function (e) {
  var b = e.target.closest && e.target.closest(".t-filters button[data-show]");
  var tl = document.getElementById("timeline");
  if (!b || !tl) { return; }
  tl.dataset.show = b.dataset.show;
  b.parentNode.querySelectorAll("button").forEach(function (o) {
    o.setAttribute("aria-pressed", o === b ? "true" : "false");
  });
});

// A table too wide for a phone scrolls inside its own box; keyboard users reach that
// box with Tab, so it scrolls with the arrow keys too.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".markdown table, .table-wrap").forEach(function (e) {
    if (e.scrollWidth > e.clientWidth) { e.tabIndex = 0; }
  });
});
