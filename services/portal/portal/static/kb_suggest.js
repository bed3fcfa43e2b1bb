// Issue 12, progressive enhancement: as the customer types the new ticket's subject and
// description, show the published articles that match ("¿Esto resuelve su caso?"). Without this
// file the form works as before and offers a link to the knowledge base.
(function () {
  "use strict";
  // After the last keystroke: one request per pause, not per key. Short enough that suggestions show
  // within 200 ms of the last key (bench/suggest_browser_bench.py), longer than the gap between two
  // keys of someone typing a word.
  var DELAY_MS = 100;
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("kb-suggestions");
    var list = document.getElementById("kb-suggestion-list");
    if (!box || !list || !window.fetch) { return; }
    var form = box.closest("form");
    var timer = null, asked = 0, lastText = "", pending = null;

    function field(name) { var el = form.elements[name]; return el ? (el.value || "") : ""; }

    function show(items) {
      list.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li"), a = document.createElement("a"), span = document.createElement("span");
        a.href = item.url;
        a.target = "_blank";  // the form stays as typed in its own tab
        a.rel = "noopener";
        a.textContent = item.title;
        a.className = "kb-suggestion";
        span.className = "module";
        span.textContent = " " + item.module_name;
        li.appendChild(a);
        li.appendChild(span);
        list.appendChild(li);
      });
      box.hidden = items.length === 0;
    }

    function ask() {
      var text = [field("module"), field("case"), field("description").slice(0, 1200)].join(" ").trim();
      if (text === lastText) { return; }
      lastText = text;
      var mine = ++asked;  // an answer to an earlier text, still on its way, is dropped
      if (pending) { pending.abort(); pending = null; }  // and its connection freed
      if (!text) { show([]); return; }
      var url = box.getAttribute("data-url") + "?desk=" + encodeURIComponent(field("desk")) +
                "&text=" + encodeURIComponent(text) + "&attempt=" + encodeURIComponent(field("attempt_id"));
      pending = window.AbortController ? new AbortController() : null;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" },
                   signal: pending ? pending.signal : undefined })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (body) { if (mine === asked) { show(body.items || []); } })
        .catch(function () { /* no suggestions: the form still works */ });
    }

    function later() { clearTimeout(timer); timer = setTimeout(ask, DELAY_MS); }
    ["case", "description"].forEach(function (name) {
      var el = form.elements[name];
      if (el) { el.addEventListener("input", later); }
    });
    ["module", "desk"].forEach(function (name) {
      var el = form.elements[name];
      if (el) { el.addEventListener("change", later); }
    });
    later();  // a form shown again (a refusal) already holds text
  });
}());
