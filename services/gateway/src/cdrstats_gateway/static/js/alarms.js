// Alarm pages: the form shows only the fields that apply (hangup cause for "share of a hangup
// cause", the baseline for relative conditions, the value picker of the chosen scope), keeps the
// threshold's unit in step, asks before a delete, and draws the history chart (ECharts) from the
// page's JSON data island. No inline script anywhere (CSP). Without JavaScript every field shows
// and the server ignores the ones that do not apply.
(function () {
  "use strict";

  function show(element, visible) {
    element.hidden = !visible;
  }

  function selectedOption(select) {
    return select.options[select.selectedIndex] || null;
  }

  function setUpForm(form) {
    var metric = form.querySelector("#alarm-metric");
    var condition = form.querySelector("#alarm-condition");
    var kind = form.querySelector("#alarm-scope-kind");
    var unit = form.querySelector("#alarm-unit");

    function update() {
      var metricValue = metric.value;
      var relative = !!(selectedOption(condition) && selectedOption(condition).getAttribute("data-relative"));
      form.querySelectorAll("[data-show-for-metric]").forEach(function (el) {
        show(el, el.getAttribute("data-show-for-metric") === metricValue);
      });
      form.querySelectorAll("[data-hide-for-metric]").forEach(function (el) {
        show(el, el.getAttribute("data-hide-for-metric") !== metricValue);
      });
      form.querySelectorAll("[data-show-if-relative]").forEach(function (el) { show(el, relative); });
      form.querySelectorAll("[data-scope-kind]").forEach(function (el) {
        show(el, el.getAttribute("data-scope-kind") === kind.value);
      });
      // CIC is a run length, not a rate: it is compared with the threshold only
      Array.prototype.forEach.call(condition.options, function (option) {
        option.disabled = metricValue === "cic" && !!option.getAttribute("data-relative");
      });
      if (metricValue === "cic" && relative) {
        condition.value = "gt";
        relative = false;
        form.querySelectorAll("[data-show-if-relative]").forEach(function (el) { show(el, false); });
      }
      if (unit) {
        var metricUnit = selectedOption(metric) ? selectedOption(metric).getAttribute("data-unit") : "";
        unit.textContent = /_pct$/.test(condition.value) ? "% of the baseline" : metricUnit;
      }
    }

    [metric, condition, kind].forEach(function (el) {
      if (el) { el.addEventListener("change", update); }
    });
    if (metric && condition && kind) {
      update();
    }
  }

  function setUpConfirm() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  }

  // Times in the viewer's zone (the page's, not the browser's), as precise as the history's span needs.
  function timeFormatter(zone, spanMs) {
    var parts = { timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false };
    if (spanMs < 15 * 60000) {
      parts.second = "2-digit";
    }
    if (spanMs >= 12 * 3600000) {
      parts.month = "short";
      parts.day = "numeric";
    }
    try {
      var format = new Intl.DateTimeFormat("en-GB", parts);
      return function (ms) { return format.format(new Date(ms)); };
    } catch (e) {
      return function (ms) { return new Date(ms).toISOString().slice(5, 19).replace("T", " ") + "Z"; };
    }
  }

  function round(value) {
    return value === null || value === undefined ? null : Math.round(value * 100) / 100;
  }

  function drawHistory() {
    var island = document.getElementById("alarm-history");
    var target = document.getElementById("alarm-chart");
    if (!island || !target || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(island.textContent);
    var span = data.points.length ? data.points[data.points.length - 1].t - data.points[0].t : 0;
    var when = timeFormatter(data.zone, span);
    var whenExact = timeFormatter(data.zone, 0);
    var unit = data.unit ? " " + data.unit : "";
    target.classList.add("ready");
    var chart = window.echarts.init(target);
    var series = [
      {
        name: data.metric,
        type: "line",
        showSymbol: data.points.length < 60,
        data: data.points.map(function (p) { return [p.t, round(p.value)]; }),
        markArea: {
          silent: true,
          itemStyle: { color: "rgba(185, 28, 28, 0.12)" },
          data: data.firing.map(function (period) { return [{ xAxis: period[0] }, { xAxis: period[1] }]; })
        }
      },
      {
        name: "Fires beyond",
        type: "line",
        step: "end",
        showSymbol: false,
        lineStyle: { type: "dashed", color: "#b91c1c" },
        itemStyle: { color: "#b91c1c" },
        data: data.points.map(function (p) { return [p.t, round(p.level)]; })
      }
    ];
    if (data.relative) {
      series.push({
        name: "Baseline",
        type: "line",
        showSymbol: false,
        lineStyle: { type: "dotted", color: "#64748b" },
        itemStyle: { color: "#64748b" },
        data: data.points.map(function (p) { return [p.t, round(p.baseline)]; })
      });
    }
    chart.setOption({
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var lines = [whenExact(items[0].value[0])];
          items.forEach(function (item) {
            if (item.value[1] !== null) {
              lines.push(item.marker + item.seriesName + ": " + item.value[1] + unit);
            }
          });
          var point = data.points[items[0].dataIndex];
          if (point) { lines.push("State: " + point.state + " (" + point.verdict + ")"); }
          return lines.join("<br>");
        }
      },
      legend: { top: 0 },
      grid: { left: 56, right: 20, bottom: 32, top: 40 },
      xAxis: { type: "time", axisLabel: { formatter: function (ms) { return when(ms); }, hideOverlap: true } },
      yAxis: { type: "value", name: data.unit, scale: true },
      series: series
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function start() {
    var form = document.getElementById("alarm-form");
    if (form) {
      setUpForm(form);
    }
    setUpConfirm();
    drawHistory();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
