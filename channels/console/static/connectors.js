/* Connectors page: swap in the server-rendered status every two seconds (connected,
   reconnecting, counters), so a creator sees a connection come up without reloading. */
(function () {
  "use strict";
  var EVERY_MS = 2000;

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("connectors-status");
    if (!box) return;
    var url = box.dataset.fragmentUrl;
    var timer = null;
    var last = box.innerHTML;

    function schedule() {
      clearTimeout(timer);
      if (!document.hidden) timer = setTimeout(refresh, EVERY_MS);
    }

    async function refresh() {
      // Not while a Disconnect button is being pressed (its form would be replaced).
      if (box.contains(document.activeElement) && document.activeElement.tagName === "BUTTON") {
        schedule();
        return;
      }
      try {
        var response = await window.consoleFetch(url, { headers: { Accept: "text/html" } });
        if (response.ok && !response.redirected) {
          var html = await response.text();
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
