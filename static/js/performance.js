// The Performance page: the cumulative realised PnL curve, drawn again whenever the
// live region is refreshed (a new fill).

import { AreaSeries, palette, themedChart } from "./charts.js";

let chart = null;

function draw() {
  const container = document.querySelector("[data-pnl-chart]");
  const dataElement = document.getElementById("pnl-chart-data");
  if (chart) {
    chart.remove();
    chart = null;
  }
  if (!container || !dataElement) return;
  const points = JSON.parse(dataElement.textContent);
  const colors = palette();
  const last = points.length ? points[points.length - 1].value : 0;
  const color = last < 0 ? colors.neg : colors.pos;
  chart = themedChart(container);
  const series = chart.addSeries(AreaSeries, {
    lineColor: color,
    topColor: last < 0 ? "rgba(198, 40, 40, 0.25)" : "rgba(15, 122, 56, 0.25)",
    bottomColor: "rgba(0, 0, 0, 0)",
    lineWidth: 2,
    priceLineVisible: false,
    title: "realised",
  });
  series.setData(points);
  chart.timeScale().fitContent();
  window.xquantPerformance = { chart, points };
}

draw();
document.querySelector("[data-performance]")?.addEventListener("xq:swapped", draw);
