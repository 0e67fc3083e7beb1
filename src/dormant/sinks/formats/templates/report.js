(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var table = document.getElementById("findings-table");
  if (!table) { return; }
  var bodies = function () { return Array.prototype.slice.call(table.querySelectorAll("tbody.finding")); };
  var q = document.getElementById("f-q");
  var selects = {
    type: document.getElementById("f-type"),
    verdict: document.getElementById("f-verdict"),
    account: document.getElementById("f-account")
  };
  var shown = document.getElementById("f-shown");
  var sortKey = "";

  // With several accounts, each account's findings follow a heading (which counts those shown)
  // while the table is in account order; sorted otherwise, the headings are hidden.
  function placeHeads() {
    var heads = Array.prototype.slice.call(table.querySelectorAll("tbody.acct-head"));
    if (!heads.length) { return; }
    var grouped = !sortKey || sortKey === "account";
    var first = {};
    var counts = {};
    bodies().forEach(function (tb) {
      var a = tb.getAttribute("data-account");
      if (!first[a]) { first[a] = tb; }
      if (!tb.hidden) { counts[a] = (counts[a] || 0) + 1; }
    });
    heads.forEach(function (h) {
      var a = h.getAttribute("data-account");
      var n = h.querySelector(".acct-n");
      if (n) { n.textContent = String(counts[a] || 0); }
      h.classList.toggle("ungrouped", !grouped);
      h.hidden = !grouped || !counts[a];
      if (grouped && first[a]) { table.insertBefore(h, first[a]); }
    });
  }

  function applyFilter() {
    var words = (q.value || "").toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    bodies().forEach(function (tb) {
      var ok = Object.keys(selects).every(function (k) {
        var want = selects[k] ? selects[k].value : "";
        return !want || tb.getAttribute("data-" + k) === want;
      });
      var text = tb.getAttribute("data-search") || "";
      ok = ok && words.every(function (w) { return text.indexOf(w) !== -1; });
      tb.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = String(count);
    placeHeads();
  }
  q.addEventListener("input", applyFilter);
  Object.keys(selects).forEach(function (k) {
    if (selects[k]) { selects[k].addEventListener("change", applyFilter); }
  });
  document.getElementById("f-reset").addEventListener("click", function () {
    q.value = "";
    Object.keys(selects).forEach(function (k) { if (selects[k]) { selects[k].value = ""; } });
    applyFilter();
  });

  var heads = Array.prototype.slice.call(table.querySelectorAll("thead th[data-key]"));
  heads.forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      sortKey = key;
      var numeric = th.hasAttribute("data-num");
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      var rows = bodies();
      rows.forEach(function (tb, i) { tb.setAttribute("data-pos", String(i)); });
      rows.sort(function (a, b) {
        var x = a.getAttribute("data-" + key) || "";
        var y = b.getAttribute("data-" + key) || "";
        var c;
        if (numeric) {
          var nx = x === "" ? -1 : Number(x);
          var ny = y === "" ? -1 : Number(y);
          c = nx - ny;
        } else {
          c = x < y ? -1 : x > y ? 1 : 0;
        }
        return c * dir || Number(a.getAttribute("data-pos")) - Number(b.getAttribute("data-pos"));
      });
      rows.forEach(function (tb) { table.appendChild(tb); });
      placeHeads();
    });
  });

  function setOpen(tb, open) {
    tb.classList.toggle("open", open);
    var b = tb.querySelector("button.toggle");
    if (b) { b.setAttribute("aria-expanded", open ? "true" : "false"); }
  }
  table.addEventListener("click", function (ev) {
    var b = ev.target.closest("button.toggle");
    if (!b) { return; }
    var tb = b.closest("tbody.finding");
    setOpen(tb, !tb.classList.contains("open"));
  });
  // "Findings" in the accounts table: show that account's findings only.
  Array.prototype.slice.call(document.querySelectorAll("a.acct-show")).forEach(function (link) {
    link.addEventListener("click", function () {
      if (!selects.account) { return; }
      selects.account.value = link.getAttribute("data-account");
      applyFilter();
    });
  });
  document.getElementById("f-expand").addEventListener("click", function () {
    bodies().forEach(function (tb) { setOpen(tb, true); });
  });
  document.getElementById("f-collapse").addEventListener("click", function () {
    bodies().forEach(function (tb) { setOpen(tb, false); });
  });
  function openFromHash() {
    if (location.hash.indexOf("#f-") !== 0) { return; }
    var target = document.getElementById(location.hash.slice(1));
    if (target && target.classList.contains("finding")) { setOpen(target, true); }
  }
  window.addEventListener("hashchange", openFromHash);
  openFromHash();
  applyFilter();
})();
