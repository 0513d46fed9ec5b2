// Errors inside htmx swaps show a readable message in place, never a blank panel.
document.addEventListener("htmx:responseError", function (event) {
  const xhr = event.detail.xhr;
  const target = event.detail.target;
  const messages = {403: "You don't have permission to do that.", 404: "That item no longer exists or isn't yours.",
                    409: "Someone else changed this first. Reload to see the current version.", 429: "Too many requests; wait a moment."};
  let text = messages[xhr.status] || "Something went wrong on the server (" + xhr.status + "). Try again.";
  if (xhr.getResponseHeader("Content-Type") && xhr.getResponseHeader("Content-Type").indexOf("text/plain") === 0 && xhr.responseText) {
    text = xhr.responseText;
  }
  const box = document.createElement("p");
  box.className = "flash error";
  box.setAttribute("role", "alert");
  box.textContent = text;
  (target || document.getElementById("messages")).prepend(box);
});
document.addEventListener("htmx:sendError", function () {
  const box = document.createElement("p");
  box.className = "flash error";
  box.setAttribute("role", "alert");
  box.textContent = "Could not reach the server. Check your connection and try again.";
  document.getElementById("messages").prepend(box);
});

// The navigation collapses into a menu on narrow screens; Escape closes it and returns focus.
(function () {
  const toggle = document.querySelector(".menu-toggle");
  if (!toggle) return;
  const bar = toggle.closest(".topbar");
  function set(open) {
    bar.classList.toggle("nav-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
  toggle.addEventListener("click", function () { set(!bar.classList.contains("nav-open")); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && bar.classList.contains("nav-open")) {
      set(false);
      toggle.focus();
    }
  });
})();

// A form that came back with errors: focus moves to the first field that needs attention.
document.addEventListener("DOMContentLoaded", function () {
  const invalid = document.querySelector("main [aria-invalid='true'], main [data-error-summary]");
  if (invalid) invalid.focus();
});
