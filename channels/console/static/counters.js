/* Overview: the "at a glance" numbers follow what happens while the page is open (a fan's
   message answered, a reply held for approval, an import finishing), polled every few
   seconds while the tab is visible. A number that changed is briefly highlighted. */
(function () {
  "use strict";
  var EVERY_MS = 4000;

  function shown(value, format) {
    if (value === null || value === undefined) return "—";
    if (format === "percent") return Math.round(value * 100) + "%";
    return String(value);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("counters");
    if (!box) return;
    var timer = null;

    function schedule() {
      clearTimeout(timer);
      if (!document.hidden) timer = setTimeout(refresh, EVERY_MS);
    }

    async function refresh() {
      try {
        var response = await window.consoleFetch(box.dataset.url);
        if (response.ok && !response.redirected) {
          var counts = await response.json();
          box.querySelectorAll("[data-counter]").forEach(function (node) {
            var text = shown(counts[node.dataset.counter], node.dataset.format);
            if (node.textContent !== text) {
              node.textContent = text;
              node.classList.remove("changed");
              void node.offsetWidth; // restart the highlight
              node.classList.add("changed");
            }
          });
        }
      } catch (e) { /* offline for a moment: try again later */ }
      schedule();
    }
    document.addEventListener("visibilitychange", schedule);
    schedule();
  });
})();
