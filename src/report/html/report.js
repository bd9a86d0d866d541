// Sortable tables and heatmap tooltips; the page reads whole without this script.
(function () {
  "use strict";
  function key(cell) {
    if (!cell) return null;
    var v = cell.getAttribute("data-value");
    if (v === null) return cell.textContent;
    if (v === "") return null;
    var n = parseFloat(v);
    return isNaN(n) ? v : n;
  }
  function compare(x, y) {
    if (x === null && y === null) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    if (typeof x === "number" && typeof y === "number") return x - y;
    return String(x).localeCompare(String(y));
  }
  // Sorts `table` by column `col`, descending when `desc`; undefined values go last.
  function sortTable(table, col, desc) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var c = compare(key(a.cells[col]), key(b.cells[col]));
      return desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, k) {
      if (k === col) th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
    table.setAttribute("data-sorted", col + ":" + (desc ? "desc" : "asc"));
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, k) {
      th.addEventListener("click", function () {
        sortTable(table, k, th.getAttribute("aria-sort") === "ascending");
      });
    });
  });
  // A link may ask for a sorted table: #sort=TABLE:COLUMN:asc|desc.
  var m = /^#sort=([\w-]+):(\d+):(asc|desc)$/.exec(window.location.hash);
  if (m) {
    var t = document.getElementById(m[1]);
    if (t && t.tHead) sortTable(t, parseInt(m[2], 10), m[3] === "desc");
  }
  var info = {};
  var infoElement = document.getElementById("cell-info");
  if (infoElement) info = JSON.parse(infoElement.textContent);
  var tip = document.createElement("div");
  tip.className = "tip";
  document.body.appendChild(tip);
  Array.prototype.forEach.call(document.querySelectorAll("svg [data-value]"), function (el) {
    el.addEventListener("mousemove", function (e) {
      var row = el.getAttribute("data-row"), col = el.getAttribute("data-col");
      var text = row !== null && info[row + "|" + col];
      if (!text) {
        var v = el.getAttribute("data-value");
        text = (row !== null ? row + " \u2192 " + col + ": " : "") + (v === "" ? "-" : Number(v).toPrecision(4));
      }
      tip.textContent = text;
      tip.style.left = e.clientX + 12 + "px";
      tip.style.top = e.clientY + 12 + "px";
      tip.style.display = "block";
    });
    el.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  });
})();
