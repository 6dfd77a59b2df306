// Hourly chart of the dashboard, drawn with ECharts from the page's JSON data island.
// Without /static/vendor/echarts.min.js the page keeps its numbers and table; the chart stays hidden.
(function () {
  "use strict";

  function draw() {
    var island = document.getElementById("dashboard-data");
    var target = document.getElementById("dashboard-chart");
    if (!island || !target || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(island.textContent);
    target.classList.add("ready");
    var chart = window.echarts.init(target);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: ["Attempts", "Answered", "Minutes"] },
      grid: { left: 48, right: 48, bottom: 32, top: 56 },
      xAxis: { type: "category", data: data.labels },
      yAxis: [
        { type: "value", name: "Calls", minInterval: 1 },
        { type: "value", name: "Minutes" }
      ],
      series: [
        { name: "Attempts", type: "bar", data: data.attempts },
        { name: "Answered", type: "bar", data: data.answered },
        { name: "Minutes", type: "line", yAxisIndex: 1, smooth: true, data: data.minutes }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
