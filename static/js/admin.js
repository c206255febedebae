/* Administration pages: dialogs that arrive with htmx, error fragments, the settings form.
   Loaded from /static (CSP script-src 'self'); no inline script anywhere. */
(function () {
  "use strict";

  /* A <dialog data-show-modal> swapped in by htmx opens as a modal and focuses its default. */
  function openArrivedDialogs(root) {
    var dialogs = (root || document).querySelectorAll("dialog[data-show-modal]");
    Array.prototype.forEach.call(dialogs, function (dialog) {
      if (!dialog.open && dialog.showModal) {
        dialog.showModal();
        var first = dialog.querySelector("[data-autofocus]");
        if (first) { first.focus(); }
      }
    });
  }
  /* Controls that only work with JavaScript are hidden until it runs. */
  function revealScriptedControls(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("[data-js-only][hidden]"), function (el) {
      el.hidden = false;
    });
  }
  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt.parentNode || document;
    openArrivedDialogs(root);
    revealScriptedControls(root);
  });
  document.addEventListener("DOMContentLoaded", function () { revealScriptedControls(document); });

  /* Closing such a dialog removes it, so the next review starts afresh. */
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (dialog.tagName === "DIALOG" && dialog.hasAttribute("data-show-modal") && dialog.parentNode) {
      dialog.parentNode.removeChild(dialog);
      var opener = document.querySelector("#bulk-form button[type=submit]");
      if (opener) { opener.focus(); }
    }
  }, true);

  /* Validation problems (400), conflicts (409) and refusals come back as fragments to show. */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ((status === 400 || status === 409 || status === 422) && event.detail.xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  /* A live region updated out of band takes focus when it asks for it (e.g. "Disabled 12 users."). */
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = (event.detail && event.detail.target) || event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-focus-on-update") && target.textContent.trim()) {
      target.focus();
    }
  });

  /* Settings: "Save" stays disabled until a value differs from what was loaded. */
  function settingsForm() { return document.getElementById("settings-form"); }
  function refreshSaveButton() {
    var form = settingsForm();
    if (!form) { return; }
    var changed = 0;
    Array.prototype.forEach.call(form.querySelectorAll("[data-initial]"), function (input) {
      var differs = input.value !== input.getAttribute("data-initial");
      var group = input.closest(".form-group");
      if (group) { group.classList.toggle("setting-changed", differs); }
      if (differs) { changed += 1; }
    });
    var button = form.querySelector("[data-save-button]");
    var note = document.getElementById("settings-changes");
    if (button) { button.disabled = changed === 0; }
    if (note) {
      note.textContent = changed === 0 ? "No changes yet." :
        (changed === 1 ? "1 setting changed, not saved yet." : changed + " settings changed, not saved yet.");
    }
  }
  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#settings-form")) { refreshSaveButton(); }
  });
  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#settings-form")) { refreshSaveButton(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = settingsForm();
    if (form && !form.hasAttribute("data-has-errors")) { refreshSaveButton(); }
  });

  /* "Select all on this page" for the users table. */
  document.addEventListener("change", function (event) {
    if (event.target.id !== "select-all-users") { return; }
    var boxes = document.querySelectorAll("#user-results input[name=ids]");
    Array.prototype.forEach.call(boxes, function (box) { box.checked = event.target.checked; });
  });
})();
