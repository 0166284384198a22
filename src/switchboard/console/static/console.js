// Charts of the usage page: uPlot over the JSON the page embeds. The page reads without it.
(function () {
  var DAY = 86400;

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

  // "2026-03-05" -> "Mar 5", in UTC as the page's period is chosen.
  function utcDay(ts) {
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    var date = new Date(ts * 1e3);
    return months[date.getUTCMonth()] + " " + date.getUTCDate();
  }

  function timeAxis(times) {
    if (times.length < 2 || times[1] - times[0] < DAY) return {};
    // One point a day: ticks on whole days only (every day, or every few when crowded).
    return {
      incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY],
      values: function (u, splits) { return splits.map(utcDay); },
    };
  }

  function draw() {
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      if (node.dataset.drawn || typeof uPlot === "undefined") return;
      var source = document.getElementById(node.dataset.chart);
      if (!source) return;
      var chart = JSON.parse(source.textContent);
      node.dataset.drawn = "1";
      var width = Math.max(280, node.clientWidth);
      var format = chart.unit === "usd" ? dollars : compact;
      var series = [{}].concat(chart.series.map(function (s, i) {
        return {
          label: s,
          stroke: ["#0b5cad", "#a4161a", "#1a6b33"][i % 3],
          width: 2,
          value: function (u, v) { return v == null ? "–" : format(v); },
        };
      }));
      var options = {
        width: width,
        height: 240,
        series: series,
        // Times are shown in UTC, as the page's period is chosen.
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
        axes: [timeAxis(chart.data[0]), {
          size: 60,
          values: function (u, vals) { return vals.map(format); },
        }],
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
