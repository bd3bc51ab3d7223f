/* Shared by every console page: the phone menu, busy buttons, and a fetch that carries the
   session's CSRF token (the JSON API accepts the console session only with it). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  window.consoleFetch = function (url, options) {
    options = options || {};
    var headers = new Headers(options.headers || {});
    headers.set("X-CSRF-Token", csrfToken());
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    options.headers = headers;
    options.credentials = "same-origin";
    return fetch(url, options);
  };

  window.consoleError = async function (response) {
    // The API's errors are {"detail": "..."} (or a list of field errors).
    try {
      var body = await response.json();
      if (typeof body.detail === "string") return body.detail;
      if (Array.isArray(body.detail)) return body.detail.map(function (d) { return d.msg; }).join("; ");
      if (body.message) return body.message;
    } catch (e) { /* not JSON */ }
    if (response.status === 401 || response.redirected) return "You are signed out: reload the page and sign in.";
    return "Something went wrong (" + response.status + "). Please try again.";
  };

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
        if (open) { var first = nav.querySelector("a"); if (first) first.focus(); }
      });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && nav.classList.contains("open")) {
          nav.classList.remove("open");
          toggle.setAttribute("aria-expanded", "false");
          toggle.focus();
        }
      });
    }
    // Forms that take a while (the playground) say so and cannot be sent twice.
    document.querySelectorAll("form[data-busy-text]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector('button[type="submit"]');
        if (button) {
          button.disabled = true;
          button.textContent = form.getAttribute("data-busy-text");
        }
        form.setAttribute("aria-busy", "true");
      });
    });
  });
})();
