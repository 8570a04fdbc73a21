// Kizuna UI: the few lines of JavaScript the pages need (no framework, no build step).
(function () {
  "use strict";
  // Charts: each [data-chart] element names a <script type="application/json"> holding a
  // Plotly figure ({data, layout}) computed on the server.
  function drawCharts() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = document.getElementById(el.getAttribute("data-chart"));
      if (!spec) return;
      var fig = JSON.parse(spec.textContent);
      var layout = Object.assign({ margin: { l: 40, r: 10, t: 10, b: 30 }, autosize: true,
        font: { family: "system-ui, 'Noto Sans CJK JP', sans-serif", size: 11 }, showlegend: true,
        legend: { orientation: "h", y: -0.2 } }, fig.layout || {});
      window.Plotly.newPlot(el, fig.data, layout, { displayModeBar: false, responsive: true })
        .then(function () { el.setAttribute("data-rendered", "true"); });
    });
  }
  // Filter selects submit their form when changed.
  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () { if (sel.form) sel.form.submit(); });
    });
  }
  // Buttons that change something say so and cannot be double-clicked.
  function guardForms() {
    document.querySelectorAll("form[method=post]").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(); autosubmit(); guardForms(); });
})();
