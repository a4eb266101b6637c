// The Backtests pages. The form posts in the background and shows the run's progress
// from the backtest.progress events while it runs (on a Celery worker the answer comes
// at once, in embedded mode only when the run is done), then opens the run. A run's page
// moves its progress bar on the same events, and draws the equity curve and drawdown.

import { AreaSeries, LineSeries, palette, themedChart } from "./charts.js";

// --- a run's page ------------------------------------------------------------------------
let equityChart = null;

function drawEquity() {
  const container = document.querySelector("[data-equity-chart]");
  const dataElement = document.getElementById("equity-data");
  if (equityChart) {
    equityChart.remove();
    equityChart = null;
  }
  if (!container || !dataElement) return;
  const data = JSON.parse(dataElement.textContent);
  const colors = palette();
  equityChart = themedChart(container);
  const equity = equityChart.addSeries(LineSeries, {
    color: colors.accent,
    lineWidth: 2,
    priceLineVisible: false,
    title: "equity",
  });
  equity.setData(data.equity);
  const drawdown = equityChart.addSeries(
    AreaSeries,
    {
      lineColor: colors.neg,
      topColor: "rgba(198, 40, 40, 0.05)",
      bottomColor: "rgba(198, 40, 40, 0.35)",
      lineWidth: 1,
      priceLineVisible: false,
      priceFormat: { type: "custom", formatter: (v) => `${v.toFixed(1)} %` },
      title: "drawdown",
    },
    1,
  );
  drawdown.setData(data.drawdown);
  equityChart.panes()[1]?.setHeight(120);
  equityChart.timeScale().fitContent();
  window.xquantEquity = equityChart;
}

function showProgress(root, percent) {
  for (const bar of root.querySelectorAll("[data-progress-bar] > span, [data-backtest-progress] > span")) {
    bar.style.width = `${percent}%`;
    bar.parentElement.setAttribute("aria-valuenow", String(percent));
  }
  for (const text of root.querySelectorAll("[data-progress-text]")) text.textContent = `${percent} %`;
}

const runElement = document.querySelector("[data-backtest-run]");
if (runElement) {
  const runId = Number(runElement.dataset.backtestRun);
  drawEquity();
  runElement.addEventListener("xq:swapped", drawEquity);
  document.addEventListener("xq:event", ({ detail: { event, data } }) => {
    if (event === "backtest.progress" && data.id === runId) showProgress(runElement, data.percent);
  });
}

// --- the list page: the form -------------------------------------------------------------
const form = document.querySelector("[data-backtest-form]");
const catalogueElement = document.getElementById("strategy-catalogue");

function describeStrategy(catalogue, name) {
  const spec = catalogue.find((s) => s.name === name);
  const description = document.querySelector("[data-strategy-description]");
  const help = document.querySelector("[data-param-help]");
  if (!spec || !help) return;
  if (description) description.textContent = spec.description || "";
  const rows = spec.params.map((p) => {
    const range =
      p.choices ? p.choices.join(" | ") : [p.min ?? "", p.max ?? ""].some((v) => v !== "") ? `${p.min ?? ""}…${p.max ?? ""}` : p.type;
    const fallback = p.required ? "<b>required</b>" : `default ${JSON.stringify(p.default)}`;
    return `<tr><td><code>${p.name}</code></td><td>${fallback}</td><td class="muted">${range}</td></tr>`;
  });
  help.innerHTML = rows.length ? `<table class="compact"><tbody>${rows.join("")}</tbody></table>` : "";
}

if (form && catalogueElement) {
  const catalogue = JSON.parse(catalogueElement.textContent);
  const strategy = form.querySelector("[name=strategy]");
  describeStrategy(catalogue, strategy.value);
  strategy.addEventListener("change", () => describeStrategy(catalogue, strategy.value));

  const status = form.querySelector("[data-backtest-status]");
  const bar = form.querySelector("[data-backtest-progress]");
  let waiting = false;
  const known = () =>
    new Set([...document.querySelectorAll("tr[data-run-id]")].map((row) => Number(row.dataset.runId)));
  let seen = known();

  document.addEventListener("xq:event", ({ detail: { event, data } }) => {
    if (!waiting || event !== "backtest.progress" || seen.has(data.id)) return;
    bar.hidden = false;
    showProgress(form, data.percent);
    status.textContent = `Run #${data.id}: ${data.percent} %`;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    waiting = true;
    seen = known();
    status.textContent = "Starting…";
    bar.hidden = false;
    showProgress(form, 0);
    try {
      const response = await fetch(window.location.pathname, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const payload = await response.json().catch(() => ({ error: `The server answered ${response.status}.` }));
      if (!response.ok) {
        status.textContent = "";
        bar.hidden = true;
        window.xquant?.toast(payload.error || "The backtest could not start.", "error", 12000);
        return;
      }
      status.textContent = `Run #${payload.id}: ${payload.status}`;
      window.location.assign(payload.url);
    } catch (error) {
      status.textContent = "";
      bar.hidden = true;
      window.xquant?.toast("Could not reach the server: no backtest was started.", "error");
    } finally {
      waiting = false;
      button.disabled = false;
    }
  });
}
