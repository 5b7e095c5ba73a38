// Draws the page's plotly figures and makes tables sortable; no library besides plotly, nothing fetched.
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("dw-figures").textContent);
  var base = {
    margin: { l: 56, r: 16, t: 34, b: 40 },
    font: { family: "system-ui, -apple-system, sans-serif", size: 11, color: "#333" },
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fafafa",
    legend: { orientation: "h", y: -0.22 },
    hovermode: "closest"
  };
  var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };

  function draw(el, fig) {
    if (typeof Plotly === "undefined") {
      el.textContent = "Charts need plotly.min.js from the reports folder's static/ directory.";
      return;
    }
    var layout = Object.assign({}, base, fig.layout || {});
    if (layout.title) {  // titles left-aligned, clear of the mode bar on the right
      layout.title = Object.assign({ x: 0, xref: "paper", xanchor: "left" }, layout.title);
    }
    Plotly.react(el, fig.data || [], layout, config);
  }

  // Pages with one set of figures (window, comparison): chart id -> figure.
  // The overview: group key -> chart id -> figure, switched by the group filter.
  window.driftwatch = {
    figures: figures,
    drawAll: function (set) {
      var nodes = document.querySelectorAll(".dw-chart[data-chart]");
      for (var i = 0; i < nodes.length; i++) {
        var el = nodes[i];
        var fig = set[el.getAttribute("data-chart")];
        var holder = el.closest("[data-chart-holder]") || el;
        if (fig) {
          holder.hidden = false;
          draw(el, fig);
        } else {
          holder.hidden = true;
          if (typeof Plotly !== "undefined") { Plotly.purge(el); }
        }
      }
    }
  };

  function cellKey(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var key = cell.getAttribute("data-sort");
    return key === null ? cell.textContent.trim() : key;
  }

  function sortBy(table, index, th) {
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var headers = table.tHead.rows[0].cells;
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a, index), y = cellKey(b, index);
      if (x === "" || y === "") { return x === y ? 0 : (x === "" ? 1 : -1); }  // empty last, both ways
      var nx = Number(x), ny = Number(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? order : -order;
    });
    for (var j = 0; j < rows.length; j++) { body.appendChild(rows[j]); }
  }

  var tables = document.querySelectorAll("table.sortable");
  for (var t = 0; t < tables.length; t++) {
    (function (table) {
      var headers = table.tHead.rows[0].cells;
      for (var h = 0; h < headers.length; h++) {
        (function (th, index) {
          th.tabIndex = 0;
          th.addEventListener("click", function () { sortBy(table, index, th); });
          th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, index, th); } });
        })(headers[h], h);
      }
    })(tables[t]);
  }
})();
