// Backtest comparison: each run's return since its start, overlaid, one colour a run
// (the legend under the chart uses the same colours).

import { LineSeries, palette, themedChart } from "./charts.js";

const container = document.querySelector("[data-compare-chart]");
const dataElement = document.getElementById("compare-data");
if (container && dataElement) {
  const curves = JSON.parse(dataElement.textContent);
  const colors = palette().series;
  const chart = themedChart(container);
  const series = curves.map((curve, i) => {
    const line = chart.addSeries(LineSeries, {
      color: colors[i % colors.length],
      lineWidth: 2,
      priceLineVisible: false,
      priceFormat: { type: "custom", formatter: (v) => `${v.toFixed(1)} %` },
    });
    line.setData(curve.points);
    return line;
  });
  for (const item of document.querySelectorAll("[data-compare-legend] [data-series]")) {
    item.style.setProperty("--series-color", colors[Number(item.dataset.series) % colors.length]);
  }
  chart.timeScale().fitContent();
  window.xquantCompare = { chart, series: series.length };
}
