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

  /* Settings stored as a number of seconds, minutes or hours read out in natural units. */
  function naturalDuration(totalSeconds) {
    var units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    var parts = [];
    var left = totalSeconds;
    units.forEach(function (unit) {
      var count = Math.floor(left / unit[1]);
      if (count > 0) {
        parts.push(count + " " + unit[0] + (count === 1 ? "" : "s"));
        left -= count * unit[1];
      }
    });
    return parts.length ? parts.join(" ") : "0 seconds";
  }
  function refreshDurationReadings() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-reading-for]"), function (reading) {
      var input = document.getElementById(reading.getAttribute("data-reading-for"));
      var value = input ? input.value.trim() : "";
      var perUnit = input ? Number(input.getAttribute("data-seconds-per-unit")) : 0;
      reading.textContent = /^\d+$/.test(value) && perUnit ? "= " + naturalDuration(Number(value) * perUnit) : "";
    });
  }

  /* Leaving the settings page with changes not saved asks first. */
  var settingsChanged = 0;
  var settingsSubmitting = false;
  window.addEventListener("beforeunload", function (event) {
    if (settingsChanged > 0 && !settingsSubmitting) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  document.addEventListener("submit", function (event) {
    if (event.target.id === "settings-form" || event.target.id === "revert-form") { settingsSubmitting = true; }
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
    settingsChanged = changed;
    refreshDurationReadings();
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
    if (form && form.hasAttribute("data-has-errors")) { settingsChanged = 1; } /* not saved */
    refreshDurationReadings();
  });

  /* <div data-shown-when="name=value|other">: shown only while the form's control of that name
     (radio buttons or a select) has one of those values. */
  function refreshConditionalFields(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("[data-shown-when]"), function (block) {
      var rule = block.getAttribute("data-shown-when").split("=");
      var form = block.closest("form");
      var control = form ? form.elements[rule[0]] : null;
      var value = control ? control.value : "";
      block.hidden = rule[1].split("|").indexOf(value) === -1;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.form) { refreshConditionalFields(event.target.form); }
  });
  document.addEventListener("DOMContentLoaded", function () { refreshConditionalFields(document); });
  document.addEventListener("htmx:load", function (event) { refreshConditionalFields(event.detail.elt); });

  /* Users ticked in the list stay ticked across pages of it (htmx swaps the results) and across
     a reload (kept in this tab's sessionStorage, under the signed-in user's key): the ones not on
     the page now travel with the bulk form as hidden fields. A bulk change done, or its review
     cancelled, clears them. */
  var ticked = {};
  function tickedCount() { return Object.keys(ticked).length; }
  function tickedKey() {
    var form = document.getElementById("bulk-form");
    return form ? form.getAttribute("data-ticked-key") : null;
  }
  function saveTicked() {
    var key = tickedKey();
    if (!key) { return; }
    try {
      if (tickedCount()) { window.sessionStorage.setItem(key, JSON.stringify(Object.keys(ticked))); }
      else { window.sessionStorage.removeItem(key); }
    } catch (e) { /* storage refused (private mode, quota): ticks last until the page is left */ }
  }
  function loadTicked() {
    var key = tickedKey();
    var stored = null;
    try { stored = key ? JSON.parse(window.sessionStorage.getItem(key) || "[]") : []; } catch (e) { stored = []; }
    ticked = {};
    (Array.isArray(stored) ? stored : []).forEach(function (id) {
      if (/^\d+$/.test(String(id))) { ticked[String(id)] = true; }
    });
  }
  function clearTicked() {
    ticked = {};
    saveTicked();
    var all = document.getElementById("select-all-users");
    if (all) { all.checked = false; }
  }
  function refreshTicked() {
    var holder = document.getElementById("bulk-ticked-elsewhere");
    var note = document.getElementById("bulk-ticked");
    if (!holder) { return; }
    var shown = {};
    Array.prototype.forEach.call(document.querySelectorAll("#user-results input[name=ids]"), function (box) {
      shown[box.value] = true;
      box.checked = !!ticked[box.value];
    });
    holder.textContent = "";
    var elsewhere = 0;
    Object.keys(ticked).forEach(function (id) {
      if (shown[id]) { return; }
      elsewhere += 1;
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "ids";
      input.value = id;
      holder.appendChild(input);
    });
    if (note) {
      var count = tickedCount();
      note.textContent = count === 0 ? "" : count + (count === 1 ? " user" : " users") + " ticked" +
        (elsewhere ? " (" + elsewhere + " on other pages)." : ".");
    }
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.name === "ids" && box.closest && box.closest("#user-results")) {
      if (box.checked) { ticked[box.value] = true; } else { delete ticked[box.value]; }
      var panel = document.getElementById("bulk-panel");
      if (box.checked && panel) { panel.open = true; }
      saveTicked();
      refreshTicked();
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var path = event.detail && event.detail.requestConfig && event.detail.requestConfig.path;
    if (path && /\/admin\/users\/bulk$/.test(path) && event.detail.xhr && event.detail.xhr.status === 200) {
      clearTicked(); /* the change is done: start afresh */
    }
    refreshTicked();
  });
  document.addEventListener("htmx:historyRestore", refreshTicked);
  /* The review closed without the change (Cancel, Close or Escape): the selection is dropped. */
  document.addEventListener("close", function (event) {
    if (event.target.id === "bulk-confirm") {
      clearTicked();
      refreshTicked();
    }
  }, true);
  document.addEventListener("DOMContentLoaded", function () {
    if (!tickedKey()) { return; }
    loadTicked();
    var panel = document.getElementById("bulk-panel");
    if (tickedCount() && panel) { panel.open = true; }
    refreshTicked();
  });

  /* "Select all on this page" for the users table. */
  document.addEventListener("change", function (event) {
    if (event.target.id !== "select-all-users") { return; }
    var boxes = document.querySelectorAll("#user-results input[name=ids]");
    Array.prototype.forEach.call(boxes, function (box) {
      box.checked = event.target.checked;
      if (box.checked) { ticked[box.value] = true; } else { delete ticked[box.value]; }
    });
    saveTicked();
    refreshTicked();
  });
})();
