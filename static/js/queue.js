// Review queue keyboard and focus handling. Every request goes through htmx; this file only
// maps keys to the buttons and links that are already on the page, so the mouse works the same.
(function () {
  "use strict";
  const page = document.getElementById("queue-page");
  if (!page) return;
  const detail = document.getElementById("detail");
  const live = document.getElementById("queue-live");
  const help = document.getElementById("queue-help");
  const PANELS = { edit: "edit-form", reject: "reject-form", regenerate: "regenerate-form" };
  const FOCUS = { edit: "edit-body", reject: "reject-reason", regenerate: "regenerate-instruction" };

  function items() { return Array.from(document.querySelectorAll("#queue-list .queue-item")); }
  function currentId() {
    const draft = document.querySelector("#detail #draft[data-draft-id]");
    return draft ? draft.dataset.draftId : null;
  }
  function announce(text) { if (live && text) { live.textContent = ""; live.textContent = text; } }

  function markCurrent() {
    const id = currentId();
    items().forEach(function (a) {
      if (a.dataset.draftId === id) { a.setAttribute("aria-current", "true"); } else { a.removeAttribute("aria-current"); }
    });
  }

  function move(step) {
    const list = items();
    if (inFlight) { refuse("Still loading; that key press was not used."); return; }
    if (!list.length) { refuse("The queue is empty."); return; }
    let index = list.findIndex(function (a) { return a.dataset.draftId === currentId(); });
    index = index < 0 ? 0 : Math.min(list.length - 1, Math.max(0, index + step));
    list[index].click();
  }

  function closePanels() {
    Object.keys(PANELS).forEach(function (name) {
      const panel = document.getElementById(PANELS[name]);
      if (panel) panel.hidden = true;
      const button = detail.querySelector('[data-action="' + name + '"]');
      if (button) button.setAttribute("aria-expanded", "false");
    });
  }

  let opener = null;
  function openPanel(name) {
    const panel = document.getElementById(PANELS[name]);
    if (!panel) { refuse("Nothing to " + name + " here."); return; }
    closePanels();
    panel.hidden = false;
    const button = detail.querySelector('[data-action="' + name + '"]');
    opener = button;
    if (button) button.setAttribute("aria-expanded", "true");
    const field = document.getElementById(FOCUS[name]);
    if (field) field.focus();
  }

  // Every press is honoured or visibly refused: while a decision is on its way, say so.
  let inFlight = 0;
  const refused = document.getElementById("queue-refused");
  let refusedTimer = null;
  function refuse(text) {
    if (!refused) return;
    refused.textContent = text;
    refused.hidden = false;
    clearTimeout(refusedTimer);
    refusedTimer = setTimeout(function () { refused.hidden = true; }, 2500);
  }
  detail.addEventListener("htmx:beforeRequest", function () { inFlight += 1; });
  detail.addEventListener("htmx:afterRequest", function () { inFlight = Math.max(0, inFlight - 1); });

  function click(action) {
    const button = detail.querySelector('[data-action="' + action + '"]');
    if (inFlight || (button && button.disabled)) { refuse("Still saving the last decision; that key press was not used."); return; }
    if (!button) { refuse("Nothing to " + action + " here."); return; }
    // A draft swapped in a moment ago is wired by htmx only when it settles (~20 ms later): wire it
    // now, so a quick press never falls through to a full-page submit.
    if (window.htmx) window.htmx.process(detail);
    button.click();
  }

  // Single-key shortcuts can be turned off (WCAG 2.1.4), and act only while the queue has focus.
  // The choice is the user's setting on the server (page.dataset.shortcuts); the help dialog's
  // toggle saves it with htmx and takes effect at once.
  const toggle = document.getElementById("shortcuts-toggle");
  function shortcutsOn() { return page.dataset.shortcuts !== "off"; }
  if (toggle) {
    toggle.addEventListener("change", function () {
      page.dataset.shortcuts = toggle.checked ? "on" : "off";
      announce(toggle.checked ? "Single-key shortcuts on." : "Single-key shortcuts off.");
    });
    // Once: a choice this browser kept before the setting moved to the server is saved there.
    const OLD = "outreach.queueShortcuts";
    try {
      if (localStorage.getItem(OLD) === "off" && shortcutsOn()) {
        toggle.checked = false;
        page.dataset.shortcuts = "off";
        // Posted directly: htmx may not have set up the form yet while this script runs.
        fetch(toggle.form.action, { method: "POST", body: new FormData(toggle.form), credentials: "same-origin" });
      }
      localStorage.removeItem(OLD);
    } catch (e) { /* storage blocked: nothing was kept here */ }
  }
  function queueHasFocus(target) { return target === document.body || page.contains(target); }

  function undo() {
    const button = document.querySelector('#detail [data-action="undo"]');
    if (button && !button.disabled) button.click();
    else announce("Nothing to undo.");
  }

  // The Undo button lives as long as the email is held, counting down.
  let undoTimer = null;
  function startUndoCountdown() {
    if (undoTimer) { clearInterval(undoTimer); undoTimer = null; }
    const form = detail.querySelector(".undo-form");
    if (!form) return;
    const until = Date.now() + Number(form.dataset.undoSeconds || 0) * 1000;
    const label = form.querySelector("[data-undo-countdown]");
    undoTimer = setInterval(function () {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0 || !document.body.contains(form)) {
        clearInterval(undoTimer); undoTimer = null;
        if (document.body.contains(form)) form.replaceWith(document.createTextNode(" No longer held: it goes out within a minute."));
        return;
      }
      if (label) label.textContent = left + " s";
    }, 250);
  }

  function typing(target) {
    if (!target) return false;
    // A ticked box or a button takes no letters: the shortcuts still work with focus on one.
    if (target.tagName === "INPUT" && /^(checkbox|radio|button|submit)$/.test(target.type)) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  // Bulk approve: the ticked drafts are kept here, so a list refreshed after a decision keeps them
  // ticked (by id and the version seen: a draft that changed since is dropped, not approved unseen).
  const selected = new Set();
  function bulkCount() {
    const count = document.querySelector("[data-bulk-count]");
    if (count) count.textContent = String(selected.size);
  }
  function reapplySelection() {
    const present = new Set();
    document.querySelectorAll("#queue-list input[data-bulk]").forEach(function (box) {
      box.checked = selected.has(box.value);
      present.add(box.value);
    });
    selected.forEach(function (value) { if (!present.has(value)) selected.delete(value); });
    bulkCount();
  }
  document.addEventListener("change", function (event) {
    const box = event.target.closest && event.target.closest("#queue-list input[data-bulk]");
    if (!box) return;
    if (box.checked) selected.add(box.value); else selected.delete(box.value);
    bulkCount();
    announce(selected.size + (selected.size === 1 ? " draft" : " drafts") + " selected to approve together.");
  });
  function toggleCurrent() {
    const box = document.querySelector('#queue-list input[data-bulk][data-draft-id="' + currentId() + '"]');
    if (!box) { refuse("This draft cannot be approved with others: open it and decide on its own."); return; }
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
  }
  const bulkForm = document.getElementById("bulk-form");
  if (bulkForm) {
    bulkForm.addEventListener("submit", function (event) {
      if (!selected.size) { event.preventDefault(); refuse("Tick at least one draft to approve together."); }
    });
    // Phones: the confirmation shows in the draft's place.
    bulkForm.addEventListener("htmx:beforeRequest", function (event) {
      if (!selected.size) { event.preventDefault(); refuse("Tick at least one draft to approve together."); return; }
      page.classList.add("show-detail");
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      if (help && help.open) return; // the dialog closes itself
      if (typing(event.target) || detail.querySelector(".panel:not([hidden])")) {
        closePanels();
        // Back to the control that opened the form, or to the draft.
        const back = opener && document.body.contains(opener) ? opener : document.getElementById("draft");
        if (back) back.focus();
        opener = null;
        event.preventDefault();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (help && help.open) return;
    if (event.key !== "?" && (!shortcutsOn() || !queueHasFocus(event.target))) return;
    const keys = {
      j: function () { move(1); },
      k: function () { move(-1); },
      a: function () { click("approve"); },
      e: function () { openPanel("edit"); },
      r: function () { openPanel("reject"); },
      g: function () { openPanel("regenerate"); },
      s: function () { click("skip"); },
      x: function () { toggleCurrent(); },
      u: function () { undo(); },
      "?": function () { if (help) help.showModal(); },
    };
    const handler = keys[event.key];
    if (handler) { event.preventDefault(); handler(); }
  });

  // Phones: the list, then one draft with a way back to the list.
  document.addEventListener("click", function (event) {
    if (event.target.closest("#queue-list .queue-item")) page.classList.add("show-detail");
    const back = event.target.closest('[data-action="back"]');
    if (back) {
      event.preventDefault();
      page.classList.remove("show-detail");
      const current = document.querySelector("#queue-list .queue-item[aria-current]");
      if (current) current.focus();
    }
  });

  // Mouse: the same buttons open the same panels.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (PANELS[action]) { event.preventDefault(); openPanel(action); }
    else if (action === "close") {
      event.preventDefault();
      closePanels();
      if (opener && document.body.contains(opener)) opener.focus();
      opener = null;
    }
    else if (action === "help" && help) { help.showModal(); }
    else if (action === "bulk-cancel") {
      // Back to the draft that was on screen; the ticks stay.
      event.preventDefault();
      const current = document.querySelector("#queue-list .queue-item[aria-current]") || items()[0];
      if (current) current.click(); else window.location.href = button.href;
      page.classList.remove("show-detail"); // phones: back to the list with its ticks
      if (current) current.focus();
    }
  });

  // Ctrl/Cmd+Enter submits the open form.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = event.target.closest && event.target.closest("form.panel");
      if (form) { event.preventDefault(); form.requestSubmit(); }
    }
  });


  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === detail) {
      // A new draft arrived: move focus to it so screen readers and the keyboard follow.
      // Its To, Subject and first line in view: the top of the draft at the top of the screen.
      const draft = document.getElementById("draft");
      if (draft) {
        draft.focus({ preventScroll: true });
        const top = detail.getBoundingClientRect().top + window.scrollY - 8;
        if (detail.getBoundingClientRect().top < 0 || detail.getBoundingClientRect().top > window.innerHeight / 3) {
          window.scrollTo({ top: Math.max(0, top), behavior: "instant" });
        }
      }
      const heading = document.getElementById("draft-heading");
      const notice = detail.querySelector('[role="status"]');
      announce([notice && notice.textContent, heading && heading.textContent].filter(Boolean).join(" ").replace(/\s+/g, " "));
      markCurrent();
      startUndoCountdown();
    }
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    markCurrent();
    reapplySelection();
    // Nothing was shown and drafts arrived: show the first one.
    // (Not while a bulk approval waits for its confirmation in the draft's place.)
    if (!currentId() && items().length && !detail.querySelector(".flash.error, .bulk-confirm")) items()[0].click();
  });
  markCurrent();
  reapplySelection();
})();
