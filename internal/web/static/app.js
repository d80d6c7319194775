// Spectra dashboard: draws the charts from the JSON embedded in each page, and a few
// progressive enhancements. Every page works without this file; amounts arrive as
// integer micro-units and are formatted exactly here (no float arithmetic on money).
(function () {
  "use strict";
  var palette = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#6b7280"];
  var charts = [];

  function group3(s) { return s.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

  // fmtMoney formats integer micro-units as "$1,234.56" (half-up to cents), or with the
  // significant micro-units when a non-zero amount would round to zero cents.
  function fmtMoney(micro, sym) {
    var neg = micro < 0, v = Math.abs(micro);
    var frac = v % 1000000, whole = (v - frac) / 1000000, s;
    var cents = Math.floor((frac + 5000) / 10000);
    if (cents === 0 && frac !== 0) {
      s = group3(String(whole)) + "." + String(frac + 1000000).slice(1).replace(/0+$/, "");
    } else {
      if (cents === 100) { whole += 1; cents = 0; }
      s = group3(String(whole)) + "." + String(cents + 100).slice(1);
    }
    return (neg ? "−" : "") + sym + s;
  }
  function exactMoney(micro) {
    var neg = micro < 0, v = Math.abs(micro), frac = v % 1000000, whole = (v - frac) / 1000000;
    return (neg ? "-" : "") + whole + "." + String(frac + 1000000).slice(1);
  }
  function fmtInt(n) { return (n < 0 ? "−" : "") + group3(String(Math.abs(n))); }
  function axisMoney(sym) {
    return function (u, vals) {
      return vals.map(function (v) {
        if (v == null) return "";
        var d = v / 1e6; // axis labels only: positions, not amounts
        if (Math.abs(d) >= 1000) return sym + (d / 1000).toFixed(d % 1000 === 0 ? 0 : 1) + "K";
        return sym + (Math.abs(d) < 10 && d % 1 !== 0 ? d.toFixed(2) : d.toFixed(0));
      });
    };
  }
  function axisCount(u, vals) {
    return vals.map(function (v) {
      if (v == null) return "";
      if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
      if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + "K";
      return String(v);
    });
  }

  function sum(a) { var t = 0; (a || []).forEach(function (v) { t += v; }); return t; }

  // tickIndexes chooses the buckets that get an axis label at this width: every one when
  // its full label ("Mon 30 Nov") fits, else every k-th with its short label ("30 Nov",
  // "15:00"), days counted back from the last and hours on multiples of k.
  function tickIndexes(d, width) {
    var n = d.x.length, per = width / Math.max(n, 1), out = [], k, i;
    if (d.step === "day" && per >= 84) {
      for (i = 0; i < n; i++) out.push(i);
      return { idx: out, full: true };
    }
    var need = d.step === "hour" ? 46 : 52;
    var steps = d.step === "hour" ? [1, 2, 3, 4, 6, 12, 24] : [1, 2, 3, 7, 14, 28, 56, 91, 182, 364];
    k = steps[steps.length - 1];
    for (i = 0; i < steps.length; i++) if (steps[i] * per >= need) { k = steps[i]; break; }
    for (i = 0; i < n; i++) {
      if (d.step === "hour" ? parseInt(d.ticks[i], 10) % k === 0 : (n - 1 - i) % k === 0) out.push(i);
    }
    return { idx: out, full: false };
  }

  // empty replaces a chart with no usage by a message, instead of an empty frame.
  function empty(el) {
    el.classList.add("chart-empty");
    el.setAttribute("aria-label", "No usage in this period");
    var p = document.createElement("p");
    p.textContent = "No usage in this period";
    el.appendChild(p);
    // The caption's "hover or click a bar" has nothing to point at.
    var cap = el.closest("figure").querySelector("figcaption");
    if (cap) cap.hidden = true;
  }

  function draw(el) {
    if (el.dataset.ready) return;
    var fig = el.closest("figure");
    if (!fig || !el.dataset.chart || typeof uPlot === "undefined") return;
    var d = JSON.parse(el.dataset.chart);
    el.dataset.ready = "1";
    d.x = d.x || []; d.series = d.series || []; d.requests = d.requests || []; d.tokens = d.tokens || [];
    d.labels = d.labels || []; d.ticks = d.ticks || []; d.links = d.links || [];
    var n = d.series.length;
    var spent = d.series.some(function (s) { return s.cost.some(function (c) { return c !== 0; }); });
    if (!d.x.length || (!spent && sum(d.requests) === 0)) { empty(el); return; }
    var half = (d.step === "hour" ? 3600 : 86400) / 2, at = {};
    d.x.forEach(function (x, i) { at[x] = i; });
    // Stack: uPlot draws series in order, each bar from zero, so the tallest (the sum of
    // all) goes first and each lower layer is drawn over it.
    var cum = [], acc = d.x.map(function () { return 0; });
    for (var i = 0; i < n; i++) {
      acc = acc.map(function (a, j) { return a + d.series[i].cost[j]; });
      cum.push(acc.slice());
    }
    // Not hovering, the legend shows the period's totals.
    var data = [d.x], series = [{
      label: d.step === "hour" ? "Hour" : "Day", // hidden by app.css: the value says it
      value: function (u, ts, si, idx) { return idx == null ? "Totals of the period" : d.labels[idx]; }
    }];
    var bars = uPlot.paths.bars({ size: [0.72, 64], gap: 1 });
    for (var k = n - 1; k >= 0; k--) {
      (function (k) {
        var s = d.series[k];
        data.push(cum[k]);
        series.push({
          label: s.label, scale: "$", fill: palette[s.color % palette.length], stroke: palette[s.color % palette.length],
          width: 0, paths: bars, points: { show: false },
          value: function (u, v, si, idx) { return fmtMoney(idx == null ? sum(s.cost) : s.cost[idx], d.symbol); }
        });
      })(k);
    }
    data.push(d.requests);
    series.push({
      label: "Requests", scale: "req", stroke: "#111827", width: 2, dash: [4, 3], points: { show: false },
      value: function (u, v, si, idx) { return fmtInt(idx == null ? sum(d.requests) : d.requests[idx]); }
    });
    // Tokens: in the legend, drawn when switched on there.
    data.push(d.tokens);
    series.push({
      label: "Tokens", scale: "tok", show: false, stroke: "#6b7280", width: 1.5, points: { show: false },
      value: function (u, v, si, idx) { return fmtInt(idx == null ? sum(d.tokens) : d.tokens[idx]); }
    });
    var width = Math.max(280, el.clientWidth || fig.clientWidth);
    var height = width < 500 ? 240 : 300;
    var ticks = null;
    var u = new uPlot({
      width: width, height: height,
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      select: { show: false },
      legend: { live: true },
      // Half a bucket either side, so the first and last bars are whole.
      scales: { x: { time: false, range: function () { return [d.x[0] - half, d.x[d.x.length - 1] + half]; } },
        "$": { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1e6]; } }, req: { range: function (u, min, max) { return [0, max > 0 ? max * 1.15 : 10]; } }, tok: { range: function (u, min, max) { return [0, max > 0 ? max * 1.15 : 10]; } } },
      axes: [
        // Ticks on the buckets themselves (days or hours), named as the tables name them.
        { stroke: "#5b6472", grid: { show: false },
          splits: function (u) { ticks = tickIndexes(d, u.bbox.width / uPlot.pxRatio); return ticks.idx.map(function (i) { return d.x[i]; }); },
          values: function (u, vals) { return vals.map(function (v) { var i = at[v]; return i == null ? "" : (ticks && ticks.full ? d.labels[i] : d.ticks[i]); }); } },
        { scale: "$", stroke: "#5b6472", values: axisMoney(d.symbol), size: 64, grid: { stroke: "#eceef2" } },
        { scale: "req", side: 1, stroke: "#5b6472", values: axisCount, grid: { show: false }, size: 52 }
      ],
      hooks: { setCursor: [function (u) { if (u.cursor.idx != null) pick(u.cursor.idx); }] },
      series: series
    }, data, el);

    // Drill-down: a bar leads to the requests of its bucket (d.links). A click follows it;
    // a tap shows the bar's values and a second tap on it follows; the link under the
    // chart names the bar last pointed at, tapped or chosen with the arrow keys.
    var idx = d.x.length - 1, picked = null, tapped = null, pointer = "mouse";
    var drill = null;
    if (d.links.length === d.x.length) {
      el.classList.add("drill");
      drill = document.createElement("p");
      drill.className = "chart-drill";
      drill.innerHTML = "<a></a>";
      drill.firstChild.href = d.all || d.links[idx];
      drill.firstChild.textContent = "Requests of this period →";
      fig.insertBefore(drill, el.nextSibling);
    }
    function pick(i) {
      idx = i;
      if (!drill || picked === i) return;
      picked = i;
      drill.firstChild.href = d.links[i];
      drill.firstChild.textContent = "Requests of " + d.labels[i] + " →";
    }
    function show(i) { u.setCursor({ left: u.valToPos(d.x[i], "x"), top: u.over.clientHeight / 2 }); pick(i); }
    function follow(i) { if (drill && d.links[i]) window.location.assign(d.links[i]); }
    u.over.addEventListener("pointerdown", function (e) { pointer = e.pointerType || "mouse"; });
    u.over.addEventListener("click", function (e) {
      var r = u.over.getBoundingClientRect(), i = u.posToIdx(e.clientX - r.left);
      if (i == null || i < 0 || i >= d.x.length) return;
      if (pointer === "touch" && tapped !== i) { tapped = i; show(i); return; }
      follow(i);
    });
    // Keyboard: focus the chart, move through buckets with the arrow keys, Enter opens.
    el.tabIndex = 0;
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); follow(idx); return; }
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight" && e.key !== "Home" && e.key !== "End") return;
      e.preventDefault();
      if (e.key === "ArrowLeft") idx = Math.max(0, idx - 1);
      if (e.key === "ArrowRight") idx = Math.min(d.x.length - 1, idx + 1);
      if (e.key === "Home") idx = 0;
      if (e.key === "End") idx = d.x.length - 1;
      show(idx);
    });
    el.addEventListener("focus", function () { show(idx); });
    charts.push({ u: u, el: el, fig: fig });
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () {
        var w = Math.max(280, fig.clientWidth);
        if (w !== u.width) u.setSize({ width: w, height: w < 500 ? 240 : 300 });
      }).observe(fig);
    }
  }

  function init(root) {
    (root || document).querySelectorAll(".chart-canvas").forEach(draw);
    // An empty request log looks again every few seconds, so the first request shows
    // up without a reload (data-live-reload="seconds"; only the empty log carries it).
    (root || document).querySelectorAll("[data-live-reload]").forEach(function (el) {
      if (el.dataset.ready) return;
      el.dataset.ready = "1";
      var secs = parseInt(el.getAttribute("data-live-reload"), 10) || 5;
      setTimeout(function () { if (document.body.contains(el)) window.location.reload(); }, secs * 1000);
    });
    (root || document).querySelectorAll("[data-copy]").forEach(function (b) {
      if (b.dataset.ready) return;
      b.dataset.ready = "1";
      b.addEventListener("click", function () {
        var t = document.querySelector(b.getAttribute("data-copy"));
        t.select();
        if (navigator.clipboard) navigator.clipboard.writeText(t.value).catch(function () {});
        b.textContent = "Copied";
      });
    });
  }

  // Editing a date in a filter form means a custom period.
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (!el.form || (el.name !== "from" && el.name !== "to")) return;
    var sel = el.form.querySelector("select[name=period]");
    if (sel && sel.querySelector("option[value=custom]")) sel.value = "custom";
  });

  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  // htmx:load fires on each piece of content htmx puts into the page.
  document.addEventListener("htmx:load", function (e) {
    charts = charts.filter(function (c) { return document.body.contains(c.el); });
    init(e.target);
  });
  // chartOf returns the uPlot of a .chart-canvas (for the browser tests).
  function chartOf(el) {
    for (var i = 0; i < charts.length; i++) if (charts[i].el === el) return charts[i].u;
    return null;
  }
  window.spectra = { fmtMoney: fmtMoney, exactMoney: exactMoney, chartOf: chartOf };
})();
