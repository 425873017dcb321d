// Small enhancements; every page works without them.
(function () {
  "use strict";
  // A refused form: move focus to the error summary so screen readers and keyboard users
  // start there (GOV.UK's pattern).
  function focusSummary() {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) {
      summary.focus();
    }
  }
  // Links in the error summary move focus to the field itself, not only scroll to it.
  document.addEventListener("click", function (event) {
    var link = event.target.closest(".error-summary-list a");
    if (!link) {
      return;
    }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (field) {
      event.preventDefault();
      field.focus();
    }
  });
  // A form that makes a binding change is sent once: a second click while the first is
  // under way does nothing (the server would also answer it with the first answer).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.submitted === "yes") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "yes";
  });
  // Buttons that print the page (the catalogue's print view).
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      event.preventDefault();
      window.print();
    }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusSummary);
  } else {
    focusSummary();
  }
})();
