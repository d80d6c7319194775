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

  function draw(el) {
    if (el.dataset.ready) return;
    var fig = el.closest("figure");
    if (!fig || !el.dataset.chart || typeof uPlot === "undefined") return;
    var d = JSON.parse(el.dataset.chart);
    el.dataset.ready = "1";
    var n = d.series.length;
    // Stack: uPlot draws series in order, each bar from zero, so the tallest (the sum of
    // all) goes first and each lower layer is drawn over it.
    var cum = [], acc = d.x.map(function () { return 0; });
    for (var i = 0; i < n; i++) {
      acc = acc.map(function (a, j) { return a + d.series[i].cost[j]; });
      cum.push(acc.slice());
    }
    var data = [d.x], series = [{
      value: function (u, ts) {
        if (ts == null) return "—";
        var dt = uPlot.tzDate(new Date(ts * 1000), d.tz);
        var opts = d.step === "hour" ? { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" } : { weekday: "short", day: "numeric", month: "short", year: "numeric" };
        return dt.toLocaleString("en-GB", opts);
      }
    }];
    var bars = uPlot.paths.bars({ size: [0.72, 64], gap: 1 });
    for (var k = n - 1; k >= 0; k--) {
      (function (k) {
        var s = d.series[k];
        data.push(cum[k]);
        series.push({
          label: s.label, scale: "$", fill: palette[s.color % palette.length], stroke: palette[s.color % palette.length],
          width: 0, paths: bars, points: { show: false },
          value: function (u, v, si, idx) { return idx == null ? "—" : fmtMoney(s.cost[idx], d.symbol); }
        });
      })(k);
    }
    data.push(d.requests);
    series.push({
      label: "Requests", scale: "req", stroke: "#111827", width: 2, dash: [4, 3], points: { show: false },
      value: function (u, v) { return v == null ? "—" : fmtInt(v); }
    });
    // Tokens: in the legend on hover, drawn when switched on there.
    data.push(d.tokens);
    series.push({
      label: "Tokens", scale: "tok", show: false, stroke: "#6b7280", width: 1.5, points: { show: false },
      value: function (u, v) { return v == null ? "—" : fmtInt(v); }
    });
    var width = Math.max(280, el.clientWidth || fig.clientWidth);
    var height = width < 500 ? 240 : 300;
    var u = new uPlot({
      width: width, height: height,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), d.tz); },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, "$": { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1e6]; } }, req: { range: function (u, min, max) { return [0, max > 0 ? max * 1.15 : 10]; } }, tok: { range: function (u, min, max) { return [0, max > 0 ? max * 1.15 : 10]; } } },
      axes: [
        { stroke: "#5b6472", grid: { show: false } },
        { scale: "$", stroke: "#5b6472", values: axisMoney(d.symbol), size: 64, grid: { stroke: "#eceef2" } },
        { scale: "req", side: 1, stroke: "#5b6472", values: axisCount, grid: { show: false }, size: 52 }
      ],
      series: series
    }, data, el);
    // Keyboard: focus the chart and move through buckets with the arrow keys.
    el.tabIndex = 0;
    var idx = d.x.length - 1;
    el.addEventListener("keydown", function (e) {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight" && e.key !== "Home" && e.key !== "End") return;
      e.preventDefault();
      if (e.key === "ArrowLeft") idx = Math.max(0, idx - 1);
      if (e.key === "ArrowRight") idx = Math.min(d.x.length - 1, idx + 1);
      if (e.key === "Home") idx = 0;
      if (e.key === "End") idx = d.x.length - 1;
      u.setCursor({ left: u.valToPos(d.x[idx], "x"), top: 10 });
    });
    el.addEventListener("focus", function () { u.setCursor({ left: u.valToPos(d.x[idx], "x"), top: 10 }); });
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
  window.spectra = { fmtMoney: fmtMoney, exactMoney: exactMoney };
})();
