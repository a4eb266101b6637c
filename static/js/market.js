// The Market page: candles, the chosen indicators (their own panes for RSI and MACD), and
// the desk's fills and unfilled orders as markers. Live: each price event moves the
// forming candle; a new bar, a fill or an order change re-reads the chart's data (the
// indicators are computed on the server, by the research side).

import {
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
  createSeriesMarkers,
  palette,
  themedChart,
} from "./charts.js";

const container = document.querySelector("[data-market-chart]");
const dataElement = document.getElementById("market-chart-data");

const MARKER_COLORS = (colors) => ({
  buy: colors.pos,
  sell: colors.neg,
  order: colors.text,
  rejected: colors.warn,
});

function build(container, data) {
  const colors = palette();
  const chart = themedChart(container);
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: colors.pos,
    downColor: colors.neg,
    wickUpColor: colors.pos,
    wickDownColor: colors.neg,
    borderVisible: false,
  });
  const markers = createSeriesMarkers(candles, []);
  const lines = new Map();
  const legend = [];
  let pane = 0;
  let colorIndex = 0;
  for (const [name, group] of Object.entries(data.indicators)) {
    const paneIndex = group.pane ? ++pane : 0;
    for (const column of group.columns) {
      const color = colors.series[colorIndex++ % colors.series.length];
      const options = {
        color,
        lineWidth: 1,
        priceLineVisible: false,
        lastValueVisible: group.pane,
        // Overlays are named in the legend, not on the price scale (which they would crowd).
        title: group.pane ? column.replace(/_/g, " ") : "",
      };
      legend.push([column.replace(/_/g, " "), column === "macd_diff" ? colors.text : color]);
      const series =
        column === "macd_diff"
          ? chart.addSeries(HistogramSeries, { ...options, color: colors.text }, paneIndex)
          : chart.addSeries(LineSeries, options, paneIndex);
      lines.set(column, series);
    }
    if (group.pane) chart.panes()[paneIndex]?.setHeight(110);
  }
  if (legend.length) {
    const box = document.createElement("div");
    box.className = "legend series-legend";
    for (const [name, color] of legend) {
      const item = document.createElement("span");
      item.className = "legend-item";
      item.innerHTML = `<i style="background:${color}"></i>`;
      item.append(name);
      box.append(item);
    }
    container.after(box);
  }
  const view = { chart, candles, markers, lines, bar: null, data: null, labels: null };
  apply(view, data);
  let pending = false;
  chart.timeScale().subscribeVisibleLogicalRangeChange(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      setMarkers(view);
    });
  });
  // Room on the right for the forming candle and its markers.
  chart.timeScale().applyOptions({ rightOffset: 6 });
  const count = data.candles.length;
  if (container.clientWidth < 600 && count > 90) {
    // A phone shows the latest bars; the rest is a swipe away.
    chart.timeScale().setVisibleLogicalRange({ from: count - 90, to: count + 6 });
  } else {
    chart.timeScale().fitContent();
  }
  return view;
}

// Below this many pixels per bar, neighbouring markers' labels ("B×12", "rejected")
// run into each other and read as one smear: the arrows stay, the labels come back
// when the trader zooms in (the colour and direction still say buy, sell, refused).
const MIN_LABEL_SPACING = 28;

function setMarkers(view) {
  const data = view.data;
  if (!data) return;
  const spacing = view.chart.timeScale().options().barSpacing;
  const labels = spacing >= MIN_LABEL_SPACING;
  if (view.labels === labels && view.markersOf === data) return;
  view.labels = labels;
  view.markersOf = data;
  const colors = MARKER_COLORS(palette());
  view.markers.setMarkers(
    data.markers.map((m) => ({
      time: m.time,
      position: m.position,
      shape: m.shape,
      color: colors[m.kind] || colors.order,
      text: labels ? m.text : "",
      id: `${m.kind}-${m.time}`,
      size: m.shape === "circle" ? 0.6 : 1,
    })),
  );
}

function apply(view, data) {
  view.data = data;
  view.candles.setData(data.candles);
  view.bar = data.candles.length ? { ...data.candles[data.candles.length - 1] } : null;
  for (const [column, series] of view.lines) series.setData(data.series[column] || []);
  setMarkers(view);
}

async function reload(view) {
  const url = new URL(window.location.href);
  url.searchParams.set("data", "chart");
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) return;
  const data = await response.json();
  const bar = view.bar;
  apply(view, data);
  // Keep the forming candle the live prices built on top of the closed bars.
  if (bar && (!view.bar || bar.time > view.bar.time)) {
    view.candles.update(bar);
    view.bar = bar;
  }
}

function onPrice(view, event) {
  const mid = Number(event.mid);
  const time = Math.floor(Date.parse(event.timestamp) / 1000);
  if (!Number.isFinite(mid) || !Number.isFinite(time)) return false;
  const start = time - (time % view.data.bar_seconds);
  const bar = view.bar;
  if (bar && start < bar.time) return false; // older than what is drawn
  let newBar = false;
  if (bar && start === bar.time) {
    bar.high = Math.max(bar.high, mid);
    bar.low = Math.min(bar.low, mid);
    bar.close = mid;
  } else {
    newBar = bar !== null;
    view.bar = { time: start, open: mid, high: mid, low: mid, close: mid };
  }
  view.candles.update(view.bar);
  return newBar;
}

if (container && dataElement) {
  const view = build(container, JSON.parse(dataElement.textContent));
  const symbol = container.dataset.symbol;
  const strategyId = container.dataset.strategyId;
  let timer = null;
  const reloadSoon = (delay = 300) => {
    clearTimeout(timer);
    timer = setTimeout(() => reload(view).catch((error) => console.warn("xquant: chart", error)), delay);
  };
  document.addEventListener("xq:event", ({ detail: { event, data } }) => {
    if (data.symbol !== symbol) return;
    if (event === "price") {
      if (onPrice(view, data)) reloadSoon(1500); // a bar closed: its candle and indicators
    } else if (event === "fill.created" || event === "order.updated") {
      if (!strategyId || String(data.strategy_id) === strategyId) reloadSoon();
    }
  });
  document.addEventListener("xq:resync", () => reloadSoon(0));
  window.xquantMarket = view;
}

// The controls apply as soon as they change.
for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  form.addEventListener("change", () => form.requestSubmit());
}
