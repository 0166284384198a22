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
      var series = [{}].concat(chart.series.map(function (s, i) {
        return { label: s, stroke: ["#0b5cad", "#a4161a", "#1a6b33"][i % 3], width: 2 };
      }));
      new uPlot({ width: width, height: 240, series: series, axes: [{}, {}] }, chart.data, node);
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
