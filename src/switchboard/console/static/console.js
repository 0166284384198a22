// Charts of the usage page: uPlot over the JSON the page embeds. The page reads without it.
(function () {
  function draw() {
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      if (node.dataset.drawn || typeof uPlot === "undefined") return;
      var source = document.getElementById(node.dataset.chart);
      if (!source) return;
      var chart = JSON.parse(source.textContent);
      node.dataset.drawn = "1";
      var width = Math.max(280, node.clientWidth);
      var colours = ["#0b5cad", "#a4161a", "#1a6b33", "#6a3d9a"];
      var series = [{}].concat(chart.series.map(function (s, i) {
        return { label: s, stroke: colours[i % colours.length], width: 2 };
      }));
      var prefix = chart.unit === "usd" ? "$" : "";
      var suffix = chart.unit === "ms" ? " ms" : "";
      var options = {
        width: width,
        height: 240,
        series: series,
        // Times are shown in UTC, as the page's period is chosen.
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
        axes: [{}, { values: function (u, vals) {
          return vals.map(function (v) { return prefix + (+v.toPrecision(3)) + suffix; });
        }, size: 64 }],
      };
      new uPlot(options, chart.data, node);
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();

// The alert rule form: only the fields the chosen kind takes are shown (and sent). Without
// this script every field shows, each saying which kinds take it.
(function () {
  function fit(form) {
    var kind = form.querySelector("select[name=kind]");
    if (!kind) return;
    form.querySelectorAll("[data-kinds]").forEach(function (field) {
      var takes = field.dataset.kinds.split(" ").indexOf(kind.value) !== -1;
      field.hidden = !takes;
      field.querySelectorAll("input, select").forEach(function (c) { c.disabled = !takes; });
    });
  }
  function fitAll() { document.querySelectorAll("form[data-rule-form]").forEach(fit); }
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-rule-form]");
    if (form && event.target.name === "kind") fit(form);
  });
  document.addEventListener("DOMContentLoaded", fitAll);
  document.addEventListener("htmx:afterSettle", fitAll);
})();
