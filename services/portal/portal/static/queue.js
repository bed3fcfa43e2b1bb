// The staff queue reloads its list every 60 s (the page works without this file: reload by hand).
// Only the list is replaced, so a half-filled filter form keeps what was typed.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.querySelector("[data-auto-refresh]");
    if (!list || !window.fetch || !window.DOMParser) { return; }
    var seconds = parseInt(list.getAttribute("data-auto-refresh"), 10) || 60;
    window.setInterval(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(list.id);
          if (fresh) { list.innerHTML = fresh.innerHTML; }
        })
        .catch(function () { /* offline for a moment: the next round tries again */ });
    }, seconds * 1000);
  });
}());
