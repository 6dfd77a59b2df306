// Report charts (ECharts) drawn from the page's JSON data island, the world map of the country
// report (world-atlas shapes via topojson-client), and the live calls page fed by Server-Sent Events.
// No inline script anywhere: the CSP forbids it. Without the vendor files the tables still show everything.
(function () {
  "use strict";

  function readData() {
    var island = document.getElementById("report-data");
    return island ? JSON.parse(island.textContent) : null;
  }

  function chartIn(target) {
    if (!target || typeof window.echarts === "undefined") {
      return null;
    }
    target.classList.add("ready");
    var chart = window.echarts.init(target);
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }

  function pick(list, key) {
    return list.map(function (item) { return item[key]; });
  }

  function stat(list, key) {
    return list.map(function (item) { return Math.round(item.stats[key] * 100) / 100; });
  }

  // a ratio of no attempts is no value (a gap), not 0 %
  function ratio(list, key) {
    return list.map(function (item) {
      return item.stats.attempts ? Math.round(item.stats[key] * 100) / 100 : null;
    });
  }

  function hourLabel(label) {
    return label.length > 5 ? label.slice(-5) : label;
  }

  function axisChart(categories, series, twoAxes) {
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 52, right: twoAxes ? 52 : 20, bottom: 32, top: 48, containLabel: false },
      xAxis: { type: "category", data: categories },
      yAxis: twoAxes ? [{ type: "value", minInterval: 1 }, { type: "value" }] : [{ type: "value" }],
      series: series
    };
  }

  function bar(name, data, extra) {
    return Object.assign({ name: name, type: "bar", data: data }, extra || {});
  }

  function line(name, data, extra) {
    return Object.assign({ name: name, type: "line", showSymbol: false, data: data }, extra || {});
  }

  function statsOverTime(buckets) {
    return axisChart(pick(buckets, "label"), [
      bar("Attempts", stat(buckets, "attempts")),
      bar("Answered", stat(buckets, "answered")),
      line("ASR %", ratio(buckets, "asr"), { yAxisIndex: 1, connectNulls: false })
    ], true);
  }

  function horizontal(names, values, title) {
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 120, right: 24, top: 16, bottom: 24 },
      xAxis: { type: "value", name: title, minInterval: 1, axisLabel: { hideOverlap: true } },
      yAxis: { type: "category", data: names.slice().reverse() },
      series: [bar(title, values.slice().reverse())]
    };
  }

  var charts = {
    daily: function (d) { return statsOverTime(d.days); },
    monthly: function (d) { return statsOverTime(d.months); },
    overview: function (d) {
      var labels = pick(d.buckets, "label");
      var series = d.series.map(function (s) {
        return line(s.name || "All switches", s.points.map(function (p) { return Math.round(p.value * 100) / 100; }));
      });
      return axisChart(labels, series, false);
    },
    hourly: function (d) {
      var days = [d.day].concat(d.compared);
      var labels = d.day.hours.map(function (h) { return hourLabel(h.label); });
      return axisChart(labels, days.map(function (day, i) {
        return line(day.date, stat(day.hours, "attempts"), i === 0 ? { lineStyle: { width: 3 } } : { lineStyle: { type: "dashed" } });
      }), false);
    },
    countries: function (d) {
      var top = d.countries.slice(0, 15);
      return horizontal(top.map(function (c) { return c.country_name; }), stat(top, "attempts"), "Attempts");
    },
    destinations: function (d) {
      return horizontal(pick(d.destinations, "value"), stat(d.destinations, "attempts"), "Attempts");
    },
    concurrent: function (d) {
      var start = Date.parse(d.start);
      var labels = d.peaks.map(function (_, i) {
        var minute = new Date(start + i * 60000);
        return minute.toISOString().slice(11, 16) + "Z";
      });
      return axisChart(labels, [line("Simultaneous calls", d.peaks, { step: "end", areaStyle: {} })], false);
    },
    "hangup-causes": function (d) {
      var labels = d.bucket_start.map(function (t) { return t.slice(0, 16).replace("T", " "); });
      var series = d.causes.slice(0, 8).map(function (c) {
        return bar(c.cause_name + " (" + c.hangup_cause + ")", c.per_bucket, { stack: "causes" });
      });
      return axisChart(labels, series, false);
    },
    live: function (d) {
      return horizontal(pick(d.by_switch, "key"), pick(d.by_switch, "calls"), "Calls");
    }
  };

  // Rings that cross the 180th meridian (Russia, Fiji) would be drawn as lines across the whole map:
  // move their western half east of 180 degrees instead.
  function unwrapAntimeridian(geometry) {
    if (!geometry) {
      return;
    }
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates || [];
    polygons.forEach(function (polygon) {
      polygon.forEach(function (ring) {
        var crosses = ring.some(function (point, i) {
          return i > 0 && Math.abs(point[0] - ring[i - 1][0]) > 180;
        });
        if (crosses) {
          ring.forEach(function (point) { if (point[0] < 0) { point[0] += 360; } });
        }
      });
    });
  }

  function drawMap(target, d) {
    var atlas = target.getAttribute("data-atlas");
    if (!atlas || typeof window.topojson === "undefined" || typeof window.echarts === "undefined") {
      return;
    }
    fetch(atlas).then(function (r) { return r.json(); }).then(function (topo) {
      var world = window.topojson.feature(topo, topo.objects.countries);
      world.features = world.features.filter(function (f) { return f.id !== "010"; }); // Antarctica: no calls, much ink
      world.features.forEach(function (f) {
        f.properties.iso = f.id || "";
        unwrapAntimeridian(f.geometry);
      });
      window.echarts.registerMap("world", world);
      var chart = chartIn(target);
      var values = d.countries.filter(function (c) { return c.iso_numeric; }).map(function (c) {
        return { name: c.iso_numeric, value: c.stats.attempts, label: c.country_name };
      });
      var max = values.reduce(function (m, v) { return Math.max(m, v.value); }, 1);
      chart.setOption({
        tooltip: {
          trigger: "item",
          formatter: function (p) { return p.data ? p.data.label + ": " + p.data.value + " attempts" : ""; }
        },
        visualMap: {
          min: 0, max: max, left: 8, bottom: 8, calculable: true, inRange: { color: ["#dbeafe", "#1d4ed8"] },
          orient: target.clientWidth < 600 ? "horizontal" : "vertical", itemHeight: target.clientWidth < 600 ? 100 : 140
        },
        series: [{ type: "map", map: "world", nameProperty: "iso", roam: true, data: values,
          emphasis: { label: { show: false }, itemStyle: { areaColor: "#f59e0b" } },
          itemStyle: { areaColor: "#e5e7eb", borderColor: "#94a3b8", borderWidth: 0.5 } }]
      });
    });
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
  }

  function seconds(time) {
    return time ? time.replace(/\.\d+Z$/, "Z") : "";
  }

  // a chart of calls per switch, only while there are calls (an empty axis says nothing)
  function showLive(chart, d) {
    var target = chart.getDom();
    if (d.by_switch.length) {
      target.classList.add("ready");
      chart.resize();
      chart.setOption(charts.live(d), true);
    } else {
      target.classList.remove("ready");
    }
  }

  function watchLive(chart) {
    var status = document.getElementById("live-status");
    if (!status || typeof window.EventSource === "undefined") {
      return;
    }
    var source = new EventSource(status.getAttribute("data-events") + window.location.search);
    source.addEventListener("live", function (event) {
      var d = JSON.parse(event.data);
      document.querySelectorAll("[data-live]").forEach(function (el) {
        var key = el.getAttribute("data-live");
        el.textContent = key === "as_of" ? seconds(d.as_of) : Number(d[key]).toLocaleString("en-US");
      });
      var body = document.querySelector("#live-calls tbody");
      while (body.firstChild) { body.removeChild(body.firstChild); }
      d.calls.forEach(function (c) {
        var row = document.createElement("tr");
        [seconds(c.start_time), c.state, c.switch_id, c.accountcode, c.caller_id_number, c.destination_number, c.country, c.direction]
          .forEach(function (v) { cell(row, v); });
        body.appendChild(row);
      });
      if (!d.calls.length) {
        var empty = document.createElement("tr");
        cell(empty, "No call in progress.");
        empty.firstChild.colSpan = 8;
        body.appendChild(empty);
      }
      if (chart) { showLive(chart, d); }
      status.textContent = "Live: updated " + seconds(d.as_of) + ".";
      status.classList.remove("error");
    });
    source.addEventListener("problem", function (event) {
      status.textContent = JSON.parse(event.data).message + " Retrying.";
      status.classList.add("error");
    });
  }

  function start() {
    var d = readData();
    var target = document.getElementById("report-chart");
    if (!d || !target) {
      return;
    }
    var kind = target.getAttribute("data-report");
    var chart = chartIn(target);
    if (chart && kind === "live") {
      showLive(chart, d);
    } else if (chart && charts[kind]) {
      chart.setOption(charts[kind](d));
    }
    var map = document.getElementById("report-map");
    if (map) {
      drawMap(map, d);
    }
    if (kind === "live") {
      watchLive(chart);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
