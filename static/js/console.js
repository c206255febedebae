/* Quill Console behaviour: CSRF header for htmx, focus after swaps, copy buttons, dialogs.
   Loaded from /static (CSP script-src 'self'); no inline script anywhere. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });

  /* After a swap, move focus to an element that asks for it (error summaries, results headings). */
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target.querySelector("[data-autofocus]");
    if (target) { target.focus(); }
  });

  /* An error summary on a freshly loaded page takes focus so screen readers announce it. */
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector(".error-summary[data-autofocus]");
    if (summary) { summary.focus(); }
  });

  /* Copy buttons: <button data-copy="text">. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var text = button.getAttribute("data-copy");
    if (navigator.clipboard) {
      navigator.clipboard.writeText(text).then(function () {
        var label = button.textContent;
        button.textContent = "Copied";
        window.setTimeout(function () { button.textContent = label; }, 1500);
      });
    }
  });

  /* Print buttons: <button data-print hidden> appears once this script runs. */
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-print][hidden]"), function (button) {
      button.hidden = false;
    });
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) { window.print(); }
  });

  /* Confirmation dialogs: <button data-confirm-dialog="dialog-id"> opens a <dialog>. */
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-confirm-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-confirm-dialog"));
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) { open.close(); }
    }
  });
})();
