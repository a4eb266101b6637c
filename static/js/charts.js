// Charts of the dashboard on TradingView's lightweight-charts (static/vendor/, pinned in
// package.json): colours from the page's CSS variables, times in the user's timezone.

import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  HistogramSeries,
  LineSeries,
  createChart,
  createSeriesMarkers,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";

export { AreaSeries, CandlestickSeries, HistogramSeries, LineSeries, createSeriesMarkers };

export function cssColor(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

export function palette() {
  return {
    text: cssColor("--muted", "#636b7d"),
    line: cssColor("--line", "#e2e5ea"),
    background: cssColor("--card", "#ffffff"),
    pos: cssColor("--pos", "#0f7a38"),
    neg: cssColor("--neg", "#c62828"),
    accent: cssColor("--accent", "#2f5bea"),
    warn: cssColor("--warn", "#a86400"),
    series: ["#2f5bea", "#d9480f", "#7048e8", "#0c8599", "#e8590c", "#5c940d"],
  };
}

const pad = (n) => String(n).padStart(2, "0");

/** Chart times are UTC epoch seconds; people read them in their own timezone. */
function local(time) {
  return new Date(Number(time) * 1000);
}

function tickMark(time, type) {
  const d = local(time);
  switch (type) {
    case 0: // year
      return String(d.getFullYear());
    case 1: // month
      return d.toLocaleString(undefined, { month: "short" });
    case 2: // day of month
      return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    case 4: // time with seconds
      return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    default: // time
      return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
}

function crosshairTime(time) {
  const d = local(time);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function themedChart(container, options = {}) {
  const colors = palette();
  return createChart(container, {
    autoSize: true,
    layout: {
      background: { type: ColorType.Solid, color: colors.background },
      textColor: colors.text,
      fontFamily: getComputedStyle(document.body).fontFamily,
      attributionLogo: true,
      panes: { separatorColor: colors.line, enableResize: true },
    },
    grid: { vertLines: { color: colors.line }, horzLines: { color: colors.line } },
    rightPriceScale: { borderColor: colors.line },
    timeScale: {
      borderColor: colors.line,
      timeVisible: true,
      secondsVisible: false,
      tickMarkFormatter: tickMark,
    },
    localization: { timeFormatter: crosshairTime },
    ...options,
  });
}
