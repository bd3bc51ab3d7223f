/* Import page: send the file with an upload progress bar, then follow the import's own
   progress (parse, store, embed, profile) until it is done. Without this script the forms
   still work (the server redirects to the import's page). */
(function () {
  "use strict";

  var STAGES = { parse: "Reading the file", store: "Saving your posts", embed: "Learning your posts", profile: "Measuring your voice" };

  function $(id) { return document.getElementById(id); }

  function show(percent, label, status) {
    var card = $("progress");
    card.hidden = false;
    $("progress-bar").value = percent;
    $("progress-bar").textContent = percent + "%";
    if (label) $("progress-label").textContent = label;
    if (status !== undefined) $("progress-status").textContent = status;
  }

  async function refreshList() {
    // The finished import joins "Recent imports" without reloading (which would hide the
    // progress card and its next steps).
    var list = $("recent-imports");
    if (!list) return;
    try {
      var response = await fetch(window.location.pathname, { credentials: "same-origin" });
      if (!response.ok) return;
      var page = new DOMParser().parseFromString(await response.text(), "text/html");
      var fresh = page.getElementById("recent-imports");
      if (fresh) list.replaceWith(fresh);
    } catch (e) { /* the list stays as it was; a reload shows it */ }
  }

  function follow(url) {
    var timer = null;
    async function poll() {
      var response;
      try {
        response = await window.consoleFetch(url);
      } catch (e) {
        timer = setTimeout(poll, 2000);
        return;
      }
      if (!response.ok) {
        show(0, "Import", await window.consoleError(response));
        return;
      }
      var job = await response.json();
      if (job.state === "done") {
        var r = job.report || {};
        var added = r.added || 0;
        show(100, "Finished", "Done: " + added + " new post" + (added === 1 ? "" : "s") + " (" +
          (r.duplicates || 0) + " already known, " + (r.parsed || 0) + " read). " +
          (job.message || ""));
        var next = $("progress-next");
        if (next) next.hidden = false;
        refreshList();
        return;
      }
      if (job.state === "failed") {
        show(job.percent, "Import failed", job.message);
        return;
      }
      show(job.percent, (STAGES[job.stage] || "Waiting to start") + "…", job.percent + "%");
      timer = setTimeout(poll, 700);
    }
    poll();
    return function () { clearTimeout(timer); };
  }

  function upload(form) {
    var xhr = new XMLHttpRequest();
    var data = new FormData(form);
    var meta = document.querySelector('meta[name="csrf-token"]');
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRF-Token", meta ? meta.content : "");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        // Sending the file is the first 5% of the bar; the import fills the rest.
        show(Math.round((event.loaded / event.total) * 5), "Sending the file…", "");
      }
    });
    xhr.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      if (xhr.status === 202 && body.status_url) {
        follow(body.status_url);
        form.reset();
      } else {
        show(0, "Not imported", body.detail || ("The upload failed (" + xhr.status + ")."));
      }
    });
    xhr.addEventListener("error", function () {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      show(0, "Not imported", "The upload was interrupted: check your connection and try again.");
    });
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    show(0, "Sending…", "");
    xhr.send(data);
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["upload-form", "paste-form"].forEach(function (id) {
      var form = $(id);
      if (!form) return;
      form.addEventListener("submit", function (event) {
        if (!form.checkValidity()) return;
        event.preventDefault();
        upload(form);
      });
    });
    var card = $("progress");
    if (card && card.dataset.statusUrl && card.dataset.finished !== "true") {
      follow(card.dataset.statusUrl);
    }
  });
})();
