// Charts of the usage page: uPlot over the JSON the page embeds. The page reads without it.
(function () {
  // 1234567 -> "1.23M", 0.000512 -> "0.000512": three significant digits, big ones shortened.
  function compact(v) {
    var size = Math.abs(v);
    var units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (size >= units[i][0]) return +(v / units[i][0]).toPrecision(3) + units[i][1];
    }
    return String(+v.toPrecision(3));
  }

  function dollars(v) {
    return (v < 0 ? "-$" : "$") + compact(Math.abs(v));
  }

  function formatter(unit) {
    if (unit === "usd") return dollars;
    if (unit === "ms") return function (v) { return compact(v) + " ms"; };
    return compact;
  }

  function draw() {
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      if (node.dataset.drawn || typeof uPlot === "undefined") return;
      var source = document.getElementById(node.dataset.chart);
      if (!source) return;
      var chart = JSON.parse(source.textContent);
      node.dataset.drawn = "1";
      var width = Math.max(280, node.clientWidth);
      var format = formatter(chart.unit);
      var colours = ["#0b5cad", "#a4161a", "#1a6b33", "#6a3d9a", "#8a5a00", "#4d4d4d"];
      var raw = chart.data;
      var stacked = chart.stacked || 0;
      var zone = node.dataset.tz === "UTC" || !node.dataset.tz ? "Etc/UTC" : node.dataset.tz;
      var daily = raw[0].length > 1 && raw[0][1] - raw[0][0] >= 86400;
      // A stacked series is drawn as the running sum of those before it, its band filled
      // down to the one below; the legend still shows each series' own value.
      var data = raw.map(function (column, i) {
        if (i < 2 || i > stacked) return column;
        return column.map(function (v, j) { return v + raw.slice(1, i).reduce(function (sum, c) {
          return sum + (c[j] || 0); }, 0); });
      });
      var series = [{}].concat(chart.series.map(function (s, i) {
        var colour = colours[i % colours.length];
        var line = {
          label: s,
          stroke: colour,
          width: 2,
          value: function (u, v) { return v == null ? "–" : format(v); },
        };
        if (i < stacked) {
          if (i === 0) line.fill = colour + "33";
          line.value = function (u, v, si, idx) {
            var own = idx == null ? null : raw[i + 1][idx];
            return own == null ? "–" : format(own);
          };
        } else if (stacked) {
          line.dash = [6, 4];
          line.stroke = "#1b1b1b";
        }
        return line;
      }));
      var bands = [];
      for (var b = 2; b <= stacked; b++) {
        bands.push({ series: [b, b - 1], fill: colours[(b - 1) % colours.length] + "33" });
      }

      var options = {
        width: width,
        height: 240,
        series: series,
        bands: bands,
        // Times are shown in the page's time zone, the one its days start in.
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), zone); },
        // Daily points get ticks on whole days only (every day, or every few on a narrow
        // chart), never the hours between them.
        axes: [daily ? { incrs: [1, 2, 7, 14, 28].map(function (d) { return d * 86400; }) } : {},
          { values: function (u, vals) { return vals.map(format); }, size: 64 }],
      };
      new uPlot(options, data, node);
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
