// The dashboard: an hourly chart (ECharts) from the page's JSON data island, refreshed with the
// numbers reporting sends over Server-Sent Events (/dashboard/events). Without echarts.min.js the
// page keeps its numbers and table; without EventSource it simply stays as loaded.
(function () {
  "use strict";

  var chart = null;

  function chartOption(data) {
    return {
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
    };
  }

  function count(n) { return Math.round(n).toLocaleString("en-US"); }
  function decimal(n) { return n.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }); }
  function mmss(s) { var t = Math.round(s); return Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0"); }

  var formats = {
    attempts: count, answered: count, asr: decimal, acd: mmss, minutes: decimal, ach: decimal, ner: decimal, pdd_ms: count
  };

  function fill(tableId, rows, cells) {
    var body = document.querySelector("#" + tableId + " tbody");
    if (!body) {
      return;
    }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    if (!rows.length) {
      rows = [null];
    }
    rows.forEach(function (item) {
      var row = document.createElement("tr");
      (item ? cells(item) : ["No calls in the last 24 hours."]).forEach(function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        if (!item) { td.colSpan = 4; }
        row.appendChild(td);
      });
      body.appendChild(row);
    });
  }

  function update(report) {
    Object.keys(formats).forEach(function (key) {
      var el = document.querySelector('[data-metric="' + key + '"], [data-live-metric="' + key + '"]');
      if (el) { el.textContent = formats[key](report[key]); }
    });
    if (chart) {
      chart.setOption({
        xAxis: { data: report.labels },
        series: [
          { data: report.hours.map(function (h) { return h.attempts; }) },
          { data: report.hours.map(function (h) { return h.answered; }) },
          { data: report.hours.map(function (h) { return Math.round(h.minutes * 100) / 100; }) }
        ]
      });
    }
    fill("dashboard-hours", report.hours, function (h) {
      var i = report.hours.indexOf(h);
      var asr = h.attempts ? 100 * h.answered / h.attempts : 0;
      return [report.hour_labels[i], count(h.attempts), count(h.answered), decimal(asr), decimal(h.minutes)];
    });
    fill("dashboard-countries", report.top_countries || [], function (c) {
      return [c.country ? c.country_name + " (" + c.country + ")" : "Unknown", count(c.stats.attempts), decimal(c.share), decimal(c.stats.asr)];
    });
    fill("dashboard-causes", report.hangup_causes || [], function (c) {
      return [c.cause_name, String(c.hangup_cause), count(c.attempts), decimal(c.share)];
    });
    var stamp = document.getElementById("dashboard-updated");
    if (stamp) {
      stamp.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      stamp.classList.remove("error");
    }
  }

  function start() {
    var island = document.getElementById("dashboard-data");
    var target = document.getElementById("dashboard-chart");
    if (!island) {
      return;
    }
    var data = JSON.parse(island.textContent);
    if (target && typeof window.echarts !== "undefined") {
      target.classList.add("ready");
      chart = window.echarts.init(target);
      chart.setOption(chartOption(data));
      window.addEventListener("resize", function () { chart.resize(); });
    }
    var events = target ? target.getAttribute("data-events") : null;
    if (!events || typeof window.EventSource === "undefined") {
      return;
    }
    var source = new EventSource(events + window.location.search);
    source.addEventListener("dashboard", function (event) {
      update(JSON.parse(event.data));
    });
    source.addEventListener("problem", function (event) {
      var stamp = document.getElementById("dashboard-updated");
      if (stamp) {
        stamp.textContent = JSON.parse(event.data).message + " Retrying.";
        stamp.classList.add("error");
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
