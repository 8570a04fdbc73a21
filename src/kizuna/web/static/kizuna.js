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
        .then(function () { el.setAttribute("data-rendered", "true"); drillDown(el); });
    });
  }
  // A chart with data-drill-url opens the account list of the clicked bar: its trace's
  // customdata is [movement, month].
  function drillDown(el) {
    var base = el.getAttribute("data-drill-url");
    if (!base || !el.on) return;
    el.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      if (!point || !point.customdata) return;
      var url = new URL(base, window.location.href);
      url.searchParams.set("movement", point.customdata[0]);
      url.searchParams.set("month", point.customdata[1]);
      window.location.href = url.toString();
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
  // plotly.js (4.8 MB, 1.4 MB compressed) is fetched only by pages with charts, and only
  // once the page itself has loaded: text and tables first, charts a moment later.
  function loadCharts() {
    if (!document.querySelector("[data-chart]")) return;
    if (typeof window.Plotly !== "undefined") { drawCharts(); return; }
    var script = document.createElement("script");
    script.src = document.body.getAttribute("data-plotly");
    script.onload = drawCharts;
    document.head.appendChild(script);
  }
  document.addEventListener("DOMContentLoaded", function () { autosubmit(); guardForms(); });
  if (document.readyState === "complete") { loadCharts(); }
  else { window.addEventListener("load", function () { window.setTimeout(loadCharts, 0); }); }
})();
