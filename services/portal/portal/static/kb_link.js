// Issue 12, progressive enhancement: "Enlazar" puts the article's title and address into the answer
// where the agent is writing. Without this file the link opens the article, whose address he copies.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("body");
    if (!box) { return; }
    document.querySelectorAll("a.kb-insert").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var text = link.getAttribute("data-kb-text") || "";
        var start = box.selectionStart, end = box.selectionEnd;
        if (typeof start === "number" && box.value) {
          box.value = box.value.slice(0, start) + text + box.value.slice(end);
          box.selectionStart = box.selectionEnd = start + text.length;
        } else {
          box.value = text;
        }
        box.focus();
      });
    });
  });
}());
