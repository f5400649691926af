// sitrep UI glue: send the CSRF token with every htmx request (forms carry it too).
document.addEventListener("htmx:configRequest", function (e) {
  var m = document.querySelector('meta[name="csrf-token"]');
  if (m) { e.detail.headers["X-CSRF-Token"] = m.content; }
});

// Live timeline: the incident page listens to the API's event stream (the session cookie
// authenticates it) and refreshes the timeline fragment on every event. Polling every
// 10 s stays as a fallback for proxies that buffer streams.
document.addEventListener("DOMContentLoaded", function () {
  var tl = document.getElementById("timeline");
  if (!tl || !tl.dataset.events || !window.EventSource) { return; }
  var kinds = ["incident.declared", "incident.acknowledged", "incident.mitigated",
    "incident.resolved", "incident.reopened", "incident.severity-changed",
    "incident.role-assigned", "incident.note", "incident.runbook-attached", "alert.firing",
    "alert.resolved", "step.run", "step.refused", "step.skipped", "evidence.captured",
    "checklist.ticked", "checklist.unticked", "action.added", "action.done", "page.attempt",
    "page.delivered", "page.failed", "reminder.due"];
  var source = new EventSource(tl.dataset.events);
  var pending = false;
  var refresh = function () {
    // Bursts of events (a section run) become one refresh.
    if (pending) { return; }
    pending = true;
    setTimeout(function () { pending = false; htmx.trigger(tl, "refresh"); }, 150);
  };
  kinds.forEach(function (k) { source.addEventListener(k, refresh); });
  tl.dataset.live = "sse";
});

// A control marked data-dialog="ID" (the Run… buttons) opens that dialog once its htmx
// request has filled it. This lived in an hx-on attribute, which is inline script: the
// Content-Security-Policy blocks it, and htmx runs with allowEval off.
document.addEventListener("htmx:afterRequest", function (e) {
  var id = e.detail.elt && e.detail.elt.dataset ? e.detail.elt.dataset.dialog : null;
  var dialog = id ? document.getElementById(id) : null;
  if (dialog && !dialog.open) { dialog.showModal(); }
});
