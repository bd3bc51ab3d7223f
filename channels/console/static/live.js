/* Live dashboard: swap in the server-rendered streams every two seconds. */
(function () {
  "use strict";
  var EVERY_MS = 2000;

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("live-streams");
    if (!box) return;
    var url = box.dataset.fragmentUrl;
    var timer = null;
    var last = box.innerHTML;

    function schedule() {
      clearTimeout(timer);
      if (!document.hidden) timer = setTimeout(refresh, EVERY_MS);
    }

    async function refresh() {
      try {
        var response = await window.consoleFetch(url, { headers: { Accept: "text/html" } });
        if (response.ok && !response.redirected) {
          var html = await response.text();
          // Keep the reader's place: only swap when something changed.
          if (html !== last) {
            box.setAttribute("aria-busy", "true");
            box.innerHTML = html;
            last = html;
            box.setAttribute("aria-busy", "false");
          }
        }
      } catch (e) { /* offline for a moment: try again later */ }
      schedule();
    }
    document.addEventListener("visibilitychange", schedule);
    schedule();
  });
})();
