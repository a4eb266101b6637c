// A study's page: the progress bar follows the study.progress events between the
// fragment's refreshes, and the stitched out-of-sample equity of its walk-forward is drawn.

import { LineSeries, palette, themedChart } from "./charts.js";

let chart = null;

function drawStitched() {
  const container = document.querySelector("[data-stitched-chart]");
  const dataElement = document.getElementById("stitched-data");
  if (chart) {
    chart.remove();
    chart = null;
  }
  if (!container || !dataElement) return;
  const points = JSON.parse(dataElement.textContent);
  if (!points.length) return;
  chart = themedChart(container);
  const series = chart.addSeries(LineSeries, {
    color: palette().accent,
    lineWidth: 2,
    priceLineVisible: false,
    title: "out-of-sample equity",
  });
  series.setData(points);
  chart.timeScale().fitContent();
}

const root = document.querySelector("[data-study]");
if (root) {
  const studyId = Number(root.dataset.study);
  drawStitched();
  root.addEventListener("xq:swapped", drawStitched);
  document.addEventListener("xq:event", ({ detail: { event, data } }) => {
    if (event !== "study.progress" || data.id !== studyId) return;
    const bar = root.querySelector("[data-study-progress]");
    if (bar) {
      bar.firstElementChild.style.width = `${data.percent}%`;
      bar.setAttribute("aria-valuenow", String(data.percent));
    }
    const text = root.querySelector("[data-study-progress-text]");
    if (text) text.textContent = `${data.done} of ${data.total} trials`;
  });
}
