// Progressive enhancement only: without this file "Insertar" is a link that reloads the ticket page
// with the canned answer in the answer form. With it, the answer (placeholders already filled by the
// server) goes into the text box where the agent is writing, and the form says which one it was.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("body");
    var chosen = document.getElementById("canned_answer_id");
    if (!box || !chosen) { return; }
    document.querySelectorAll("a.canned-insert").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var text = link.getAttribute("data-canned-body") || "";
        var start = box.selectionStart, end = box.selectionEnd;
        if (typeof start === "number" && box.value) {
          box.value = box.value.slice(0, start) + text + box.value.slice(end);
          box.selectionStart = box.selectionEnd = start + text.length;
        } else {
          box.value = text;
        }
        chosen.value = link.getAttribute("data-canned-id") || "";
        box.focus();
      });
    });
  });
}());
