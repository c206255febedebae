/* The idle-timeout warning: a minute before the session ends, a dialog offers "Stay signed in"
   (a POST that restarts the idle timeout). When the time is up the page is loaded again, and the
   server sends the user to sign-in saying why. Every answer from the console says how long the
   session has left (the X-Session-Expires-In header), and tabs tell each other through storage.
   Loaded from /static (CSP script-src 'self'); no inline script anywhere. */
(function () {
  "use strict";

  var WARN_BEFORE_MS = 60 * 1000;
  var STORAGE_KEY = "quill-session-ends-at";
  var endsAt = 0;
  var warnTimer = null;
  var endTimer = null;

  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.getAttribute("content") : null;
  }
  function dialog() { return document.getElementById("session-warning"); }

  function closeWarning() {
    var warning = dialog();
    if (warning && warning.open) { warning.close(); }
  }

  function showWarning() {
    var warning = dialog();
    if (!warning) { return; }
    var text = document.getElementById("session-warning-text");
    var stay = document.getElementById("session-stay");
    /* Within a minute of the absolute limit, staying signed in is no longer possible. */
    var atLimit = warning.hasAttribute("data-at-limit");
    text.textContent = text.getAttribute(atLimit ? "data-limit-text" : "data-idle-text");
    stay.hidden = atLimit;
    if (!warning.open && warning.showModal) { warning.showModal(); }
    if (!atLimit) { stay.focus(); }
  }

  function expire() {
    /* A fresh GET of this page: the server finds the session over and says so at sign-in. */
    window.location.assign(window.location.href);
  }

  function schedule(secondsLeft, share) {
    var left = Number(secondsLeft);
    if (!isFinite(left) || left < 0) { return; }
    endsAt = Date.now() + left * 1000;
    if (share) {
      try { window.localStorage.setItem(STORAGE_KEY, String(endsAt)); } catch (e) { /* private mode */ }
    }
    arm();
  }

  function arm() {
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    var now = Date.now();
    if (endsAt - now > WARN_BEFORE_MS) {
      closeWarning();
      var warning = dialog();
      if (warning) { warning.removeAttribute("data-at-limit"); }
    }
    warnTimer = window.setTimeout(showWarning, Math.max(0, endsAt - now - WARN_BEFORE_MS));
    endTimer = window.setTimeout(expire, Math.max(0, endsAt - now) + 1000);
  }

  function stayAlive() {
    var url = meta("session-keep-alive-url");
    var token = meta("csrf-token");
    if (!url) { return; }
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token || "", "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { expire(); return null; }
      return response.json();
    }).then(function (body) {
      if (!body) { return; }
      if (body.expires_in === null) { expire(); return; }
      var warning = dialog();
      if (body.expires_in * 1000 <= WARN_BEFORE_MS && warning) {
        warning.setAttribute("data-at-limit", "");
      }
      schedule(body.expires_in, true);
    }, expire);
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("#session-stay")) { stayAlive(); }
  });

  /* Any htmx answer restarts the countdown from what the server says is left. */
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var left = xhr && xhr.getResponseHeader("X-Session-Expires-In");
    if (left !== null && left !== undefined && left !== "") { schedule(left, true); }
  });

  /* Activity in another tab of the console keeps this one going too. */
  window.addEventListener("storage", function (event) {
    if (event.key !== STORAGE_KEY || !event.newValue) { return; }
    var other = Number(event.newValue);
    if (isFinite(other) && other > endsAt) { endsAt = other; arm(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var left = meta("session-expires-in");
    if (left !== null) { schedule(left, true); }
  });
})();
