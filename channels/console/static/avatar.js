/* Avatar studio: a small client of the avatar JSON API (/api/creators/{id}/avatar/...).
   Photos are checked one by one, 2-5 styles are picked from previews, the job's progress is
   followed (its bar ends with the job, or says why it stopped), and each avatar has one
   primary action, keep it; downloading one or making it the profile picture sit behind its
   "More"; the kept ones or all download as a zip. Text from the server is always inserted
   as text, never as HTML. */
(function () {
  "use strict";

  var studio, api, catalog = null, currentJob = null, outputs = [];

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function say(text) { $("studio-status").textContent = text; }

  function photos() { return Array.prototype.slice.call($("photos").files || []); }

  function chosenStyles() {
    return Array.prototype.map.call(
      document.querySelectorAll('#styles input[name="styles"]:checked'), function (i) { return i.value; });
  }

  // -- styles ----------------------------------------------------------------------------

  function updateStyleCount() {
    var picked = chosenStyles().length;
    $("styles-count").textContent = picked + " chosen (choose " + catalog.min_styles + " to " + catalog.max_styles + ").";
    document.querySelectorAll('#styles input[name="styles"]').forEach(function (input) {
      input.disabled = !input.checked && picked >= catalog.max_styles;
    });
  }

  function renderStyles() {
    var box = $("styles");
    box.textContent = "";
    $("styles-legend").textContent = "Choose " + catalog.min_styles + " to " + catalog.max_styles + " styles";
    $("photos-limits").textContent = "(" + catalog.min_photos + " to " + catalog.max_photos + ")";
    catalog.styles.forEach(function (style) {
      var input = el("input", { type: "checkbox", name: "styles", value: style.id, onchange: updateStyleCount });
      box.appendChild(el("label", { className: "style-card" }, [
        el("img", { src: style.preview_url, alt: "Preview of the " + style.name + " style", loading: "lazy", width: "160", height: "160" }),
        el("span", {}, [input, document.createTextNode(" "), el("span", { className: "name", text: style.name })]),
        el("span", { className: "help", text: style.description })
      ]));
    });
    updateStyleCount();
  }

  // -- photo verdicts --------------------------------------------------------------------

  function renderVerdicts(verdicts) {
    var list = $("verdicts");
    var files = photos();
    list.textContent = "";
    verdicts.forEach(function (v) {
      var file = files[v.index];
      var reasons = v.reasons.map(function (r) { return r.message; }).join(" ");
      list.appendChild(el("li", { className: "verdict " + (v.accepted ? "ok" : "bad") }, [
        file ? el("img", { src: URL.createObjectURL(file), alt: "" }) : null,
        el("div", {}, [
          el("strong", { text: (v.accepted ? "✓ " : "✗ ") + v.filename }),
          el("p", { className: "small", text: v.accepted ? "Good photo." + (reasons ? " " + reasons : "") : reasons || "Not usable." })
        ])
      ]));
    });
  }

  function photoData() {
    var data = new FormData();
    photos().forEach(function (file) { data.append("files", file, file.name); });
    return data;
  }

  async function checkPhotos() {
    if (!photos().length) { say("Choose your photos first."); $("photos").focus(); return; }
    say("Checking your photos…");
    var response = await window.consoleFetch(api + "/checks", { method: "POST", body: photoData() });
    if (!response.ok) { say(await window.consoleError(response)); return; }
    var body = await response.json();
    renderVerdicts(body.verdicts);
    var usable = body.verdicts.filter(function (v) { return v.accepted; }).length;
    say(usable + " of " + body.verdicts.length + " photos can be used" +
      (usable < catalog.min_photos ? "; at least " + catalog.min_photos + " are needed." : "."));
  }

  // -- the job ---------------------------------------------------------------------------

  async function startJob() {
    var styles = chosenStyles();
    if (!photos().length) { say("Choose your photos first."); $("photos").focus(); return; }
    if (styles.length < catalog.min_styles || styles.length > catalog.max_styles) {
      say("Choose " + catalog.min_styles + " to " + catalog.max_styles + " styles.");
      return;
    }
    var data = photoData();
    styles.forEach(function (s) { data.append("styles", s); });
    $("start-job").disabled = true;
    say("Sending your photos…");
    var response = await window.consoleFetch(api + "/jobs", { method: "POST", body: data });
    $("start-job").disabled = false;
    var body = null;
    try { body = await response.clone().json(); } catch (e) { body = null; }
    if (body && body.verdicts) renderVerdicts(body.verdicts);
    if (response.status !== 201 || !body || !body.job) {
      say(body && body.message ? body.message : await window.consoleError(response));
      return;
    }
    say(body.message || "Your avatars are being made.");
    follow(body.job.id);
    loadJobs();
  }

  function showProgress(job) {
    // Only an unfinished job has a progress bar; a finished one says how it ended, once.
    var finished = job.state === "done" || job.state === "failed" || job.state === "cancelled";
    $("job-step").hidden = job.state === "done";
    $("job-progress").hidden = finished;
    $("job-progress").value = Math.round(job.percent);
    $("job-progress").textContent = Math.round(job.percent) + "%";
    var label = job.state === "queued" ? "Waiting for its turn…" :
      job.state === "running" ? "Making avatar " + Math.min(job.images_done + 1, job.images_total) + " of " + job.images_total + "…" :
      job.state === "done" ? "Done: " + job.images_done + " avatars" :
      job.state === "failed" ? "The job failed" : "The job was cancelled";
    $("job-progress-label").textContent = label;
    $("job-message").textContent = job.message || (finished ? "" : Math.round(job.percent) + "%");
    $("job-report").textContent = job.report ? reportText(job.report) : "";
  }

  // Likeness: median SFace cosine to your selfies; variety: median perceptual-hash distance
  // between two avatars (of 64 bits; near-duplicates are dropped).
  function reportText(r) {
    return "Likeness to your selfies: " + r.likeness_median.toFixed(2) + " (median, lowest " +
      r.likeness_min.toFixed(2) + "). Variety: " + r.diversity_median.toFixed(0) +
      " of 64 bits between two avatars (median)" +
      (r.near_duplicates_dropped ? "; " + r.near_duplicates_dropped + " near-duplicates replaced." : ".");
  }

  async function follow(jobId) {
    currentJob = jobId;
    $("results-step").hidden = true;
    var misses = 0;
    while (currentJob === jobId) {
      var response = null;
      try { response = await window.consoleFetch(api + "/jobs/" + encodeURIComponent(jobId)); } catch (e) { response = null; }
      if (response && !response.ok) { stopFollowing(await window.consoleError(response)); return; }
      if (!response) {
        // The server is out of reach for a moment: say so rather than leave a frozen bar.
        misses += 1;
        if (misses > 10) { stopFollowing("Lost contact with the server: reload the page to see your avatars."); return; }
        say("Lost contact with the server; trying again…");
      } else {
        misses = 0;
        var job = await response.json();
        showProgress(job);
        if (job.state === "done") { say("Your avatars are ready."); await loadOutputs(jobId); loadJobs(); return; }
        if (job.state === "failed" || job.state === "cancelled") { say(job.message || "The job " + job.state + "."); loadJobs(); return; }
      }
      await new Promise(function (resolve) { setTimeout(resolve, misses ? 2000 : 800); });
    }
  }

  function stopFollowing(message) {
    $("job-progress").hidden = true;
    $("job-progress-label").textContent = "Not following this job any more";
    $("job-message").textContent = message;
    say(message);
  }

  // -- results ---------------------------------------------------------------------------

  function styleName(id) {
    var known = (catalog ? catalog.styles : []).filter(function (s) { return s.id === id; })[0];
    return known ? known.name : id;
  }

  function keptIds() {
    return outputs.filter(function (o) { return o.chosen; }).map(function (o) { return o.id; });
  }

  function updateKeptCount() {
    var kept = keptIds().length;
    $("download-kept").disabled = kept === 0;
    $("download-kept").textContent = kept ? "Download the " + kept + " kept" : "Download kept";
  }

  function zipUrl(jobId, ids) {
    var url = api + "/jobs/" + encodeURIComponent(jobId) + "/zip";
    if (ids && ids.length) url += "?" + ids.map(function (id) { return "ids=" + encodeURIComponent(id); }).join("&");
    return url;
  }

  function keepText(chosen) { return chosen ? "★ Kept" : "☆ Keep"; }

  async function toggleKept(output, button, item) {
    var response = await window.consoleFetch(api + "/jobs/" + encodeURIComponent(output.job_id) + "/choose", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ output_ids: [output.id], chosen: !output.chosen })
    });
    if (!response.ok) { say(await window.consoleError(response)); return; }
    output.chosen = !output.chosen;
    button.setAttribute("aria-pressed", output.chosen ? "true" : "false");
    button.textContent = keepText(output.chosen);
    item.classList.toggle("chosen", output.chosen);
    updateKeptCount();
    say(output.chosen ? "Kept." : "No longer kept: it is deleted after a while.");
  }

  async function setProfile(output) {
    var response = await window.consoleFetch(api + "/profile-picture", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ output_id: output.id })
    });
    say(response.ok ? "This avatar is now your profile picture." : await window.consoleError(response));
  }

  async function loadOutputs(jobId) {
    var response = await window.consoleFetch(api + "/jobs/" + encodeURIComponent(jobId) + "/outputs");
    if (!response.ok) { say(await window.consoleError(response)); return; }
    outputs = await response.json();
    var grid = $("outputs");
    grid.textContent = "";
    outputs.forEach(function (output, index) {
      var item = el("li", { className: "output" + (output.chosen ? " chosen" : ""), id: "output-" + output.id });
      var name = "Avatar " + (index + 1) + ", " + styleName(output.style);
      // One primary action per avatar (keep it); the rarer ones wait behind "More".
      var keep = el("button", { type: "button", className: "btn btn-primary keep", "aria-pressed": output.chosen ? "true" : "false",
        "aria-label": "Keep " + name, text: keepText(output.chosen) });
      keep.addEventListener("click", function () { toggleKept(output, keep, item); });
      var profile = el("button", { type: "button", className: "btn btn-quiet profile", text: "Use as my profile picture" });
      profile.addEventListener("click", function () { setProfile(output); });
      var more = el("details", { className: "more" }, [
        el("summary", { text: "More", "aria-label": "More for " + name }),
        el("div", { className: "more-actions" }, [
          profile,
          el("a", { className: "btn btn-quiet download-one", href: output.url + "?download=true",
            download: "avatar-" + output.id.slice(0, 8) + ".jpg", text: "Download" })
        ])
      ]);
      [
        el("img", { src: output.url, alt: name + " (labelled AI-generated)", loading: "lazy" }),
        el("p", { className: "small likeness", text: "Likeness " + output.similarity.toFixed(2) }),
        el("div", { className: "output-actions" }, [keep, more])
      ].forEach(function (child) { item.appendChild(child); });
      grid.appendChild(item);
    });
    $("download-all").href = zipUrl(jobId);
    $("download-all").setAttribute("download", "avatars.zip");
    updateKeptCount();
    $("download-kept").onclick = function () {
      var ids = keptIds();
      if (ids.length) window.location.href = zipUrl(jobId, ids);
    };
    $("results-step").hidden = false;
  }

  async function loadJobs() {
    var response = await window.consoleFetch(api + "/jobs?limit=10");
    if (!response.ok) return;
    var jobs = await response.json();
    var list = $("jobs");
    list.textContent = "";
    if (!jobs.length) { list.appendChild(el("li", { className: "muted", text: "No jobs yet." })); return; }
    jobs.forEach(function (job) {
      var when = new Date(job.created_at).toLocaleString();
      var show = el("button", { type: "button", className: "btn btn-quiet", text: "Show" });
      show.addEventListener("click", function () {
        if (job.state === "done") { showProgress(job); loadOutputs(job.id); } else { follow(job.id); }
      });
      list.appendChild(el("li", {}, [
        document.createTextNode(when + " · " + job.styles.map(styleName).join(", ") + " · " + job.state + " "),
        show
      ]));
    });
  }

  async function init() {
    studio = $("studio");
    if (!studio) return;
    api = studio.dataset.api;
    var response;
    try { response = await window.consoleFetch(api + "/styles"); } catch (e) { response = null; }
    if (!response || !response.ok) {
      say(response && response.status !== 404 ? await window.consoleError(response)
        : "The avatar studio is not available on this server.");
      ["photos-step", "styles-step", "past-step"].forEach(function (id) { $(id).hidden = true; });
      return;
    }
    catalog = await response.json();
    renderStyles();
    if (!catalog.available) {
      say(catalog.unavailable_reason || "The avatar studio is not available right now.");
      $("start-job").disabled = true;
    } else {
      say("Choose " + catalog.min_photos + " to " + catalog.max_photos + " photos and " +
        catalog.min_styles + " to " + catalog.max_styles + " styles.");
    }
    $("check-photos").addEventListener("click", checkPhotos);
    $("start-job").addEventListener("click", startJob);
    loadJobs();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
