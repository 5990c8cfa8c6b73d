// leitstand web UI: the one place that hands the session's CSRF token to the server.
// Every form that posts gets a hidden csrf_token field (also forms added later, at submit
// time), and every htmx request an X-CSRF-Token header. No inline script anywhere: the
// Content-Security-Policy allows scripts from /static only.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  if (!token) {
    return;
  }

  function arm(form) {
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") {
      return;
    }
    var field = form.querySelector('input[name="csrf_token"]');
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "csrf_token";
      form.appendChild(field);
    }
    field.value = token;
  }

  function armAll() {
    document.querySelectorAll("form").forEach(arm);
  }

  // Capture phase: runs before the browser collects the form's fields.
  document.addEventListener(
    "submit",
    function (event) {
      if (event.target instanceof HTMLFormElement) {
        arm(event.target);
      }
    },
    true
  );
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = token;
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", armAll);
  } else {
    armAll();
  }
})();
