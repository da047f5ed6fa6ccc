// Small helps for pages that work without JavaScript. No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  // GOV.UK Design System error summary: focus it when the page comes back with errors, so
  // screen readers read it and a phone shows it; a link in it focuses its field.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector('[data-module="error-summary"]');
    if (!summary) return;
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) return;
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field) return;
      event.preventDefault();
      var details = field.closest("details");
      if (details) details.open = true;
      // Show the field's label (above the field) as well as the field.
      var label = document.querySelector('label[for="' + field.id + '"]') || field;
      (field.closest("fieldset") || label).scrollIntoView();
      field.focus({ preventScroll: true });
    });
  });

  // A page that checks again by itself (payment pending): reloads every few seconds until
  // the citizen presses "stop" (WCAG 2.2.1: a time limit the user can turn off).
  document.addEventListener("DOMContentLoaded", function () {
    var refresh = document.querySelector('[data-module="auto-refresh"]');
    if (!refresh) return;
    var seconds = parseInt(refresh.getAttribute("data-seconds"), 10) || 5;
    var timer = window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
    var stop = refresh.querySelector("[data-stop]");
    if (!stop) return;
    stop.hidden = false;
    stop.addEventListener("click", function () {
      window.clearTimeout(timer);
      stop.hidden = true;
    });
  });
})();
