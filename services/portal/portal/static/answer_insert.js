// Progressive enhancement only (issue 12): on the staff ticket page, "Insertar" (a canned answer, its
// placeholders already filled by the server) and "Enlazar" (a knowledge-base article's title and
// address) put their text into the answer where the agent is writing. Without this file "Insertar"
// reloads the page with the answer in the form, and "Enlazar" opens the article.
(function () {
  "use strict";
  function insertAtCursor(box, text) {
    var start = box.selectionStart, end = box.selectionEnd;
    if (typeof start === "number" && box.value) {
      box.value = box.value.slice(0, start) + text + box.value.slice(end);
      box.selectionStart = box.selectionEnd = start + text.length;
    } else {
      box.value = text;
    }
    box.focus();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("body");
    if (!box) { return; }
    var chosen = document.getElementById("canned_answer_id");  // the form says which answer it started from
    document.querySelectorAll("a.canned-insert").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        insertAtCursor(box, link.getAttribute("data-canned-body") || "");
        if (chosen) { chosen.value = link.getAttribute("data-canned-id") || ""; }
      });
    });
    document.querySelectorAll("a.kb-insert").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        insertAtCursor(box, link.getAttribute("data-kb-text") || "");
      });
    });
  });
}());
