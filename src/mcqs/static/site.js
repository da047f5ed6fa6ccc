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
})();
