// Draws every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">.
// The same figures are in a table next to each chart, so the page reads fine without JavaScript.
(function () {
  "use strict";
  var palette = ["#4a6fa5", "#d1495b", "#2e933c", "#edae49", "#7b5ea7", "#00798c"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var names = Object.keys(data.series);
    var chart = new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: names.map(function (name, i) {
          return { label: name, data: data.series[name], borderColor: palette[i % palette.length],
                   backgroundColor: palette[i % palette.length], spanGaps: true, tension: 0.25 };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { min: -1, max: 1, title: { display: true, text: "sentiment (−1 … +1)" } } },
        plugins: { legend: { display: names.length > 1 } }
      }
    });
    canvas.dataset.points = String(names.reduce(function (n, k) {
      return n + data.series[k].filter(function (v) { return v !== null; }).length;
    }, 0));
    canvas.chart = chart;
  });
})();
