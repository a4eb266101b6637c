// Entry module of every dashboard page: the live connection, in-place updates of the
// values that change every tick (prices, position marks), async POST forms (strategy
// switches, kill switch) with their confirmation dialogs, and toasts.
//
// Every live event is also re-dispatched on document as "xq:event" ({event, data}), and
// every (re)connection as "xq:resync", so a page's own module (the market chart, the
// backtest pages) can listen without a socket of its own.

import {
  formatAge,
  formatNumber,
  formatTime,
  formatTimes,
  setSignClass,
  startRelativeClock,
  timezoneName,
} from "./format.js";
import { LiveConnection, LiveRegions } from "./live.js";

const root = document.documentElement;

// --- toasts ------------------------------------------------------------------------------
const toastBox = document.querySelector("[data-toasts]");

export function toast(text, kind = "info", ttl = 7000) {
  if (!toastBox) return;
  const element = document.createElement("div");
  element.className = `toast ${kind}`;
  element.setAttribute("role", kind === "error" ? "alert" : "status");
  element.textContent = text;
  toastBox.append(element);
  while (toastBox.children.length > 4) toastBox.firstElementChild.remove();
  setTimeout(() => element.remove(), ttl);
}

// --- connection indicator ----------------------------------------------------------------
const indicator = document.querySelector("[data-live-indicator]");
let countdown = null;

function showState(state, detail) {
  root.dataset.live = state;
  if (state === "connected") notLiveSince = null;
  else if (notLiveSince === null) notLiveSince = Date.now();
  if (!indicator) return;
  indicator.dataset.state = state;
  const text = indicator.querySelector(".live-text");
  clearInterval(countdown);
  if (state === "connected") {
    text.textContent = "Live";
  } else if (state === "connecting") {
    text.textContent = "Connecting…";
  } else if (state === "reconnecting") {
    const tick = () => {
      const seconds = detail.retryAt ? Math.max(0, Math.ceil((detail.retryAt - Date.now()) / 1000)) : 0;
      text.textContent = seconds > 0 ? `Reconnecting in ${seconds} s…` : "Reconnecting…";
    };
    tick();
    countdown = setInterval(tick, 500);
  } else if (state === "logged-out") {
    text.innerHTML = 'Logged out — <a href="/accounts/login/">log in</a>';
  } else {
    text.textContent = "Offline";
  }
}

// --- in-place updates --------------------------------------------------------------------
let regions;

function flash(element, direction) {
  if (!direction) return;
  element.classList.remove("flash-up", "flash-down");
  // Restart the animation on consecutive changes in the same direction.
  void element.offsetWidth;
  element.classList.add(direction === "up" ? "flash-up" : "flash-down");
}

// The latest price event per symbol on the current connection: a refreshed region gets
// it back (the server keeps only the last mid, not the bid and ask). Forgotten on every
// (re)connection, when it may be older than what the server renders.
const lastPrices = new Map();

function onPrice(data, { root = document, replay = false } = {}) {
  if (!replay) {
    data.receivedAt = Date.now();
    lastPrices.set(data.symbol, data);
  }
  const symbol = CSS.escape(String(data.symbol));
  for (const tile of root.querySelectorAll(`[data-price-symbol="${symbol}"]`)) {
    // Age counts from when this page got it (the feed's own timestamp may be a replay's).
    tile.dataset.receivedAt = String(data.receivedAt);
    const time = tile.querySelector("time");
    const mid = tile.querySelector('[data-field="mid"]');
    if (mid) {
      const previous = mid.dataset.value === "" ? NaN : Number(mid.dataset.value);
      const next = Number(data.mid);
      mid.textContent = formatNumber(data.mid, "price");
      mid.dataset.value = data.mid;
      if (!replay && Number.isFinite(previous)) {
        flash(mid, next > previous ? "up" : next < previous ? "down" : null);
      }
    }
    for (const field of ["bid", "ask"]) {
      const element = tile.querySelector(`[data-field="${field}"]`);
      if (element) element.textContent = formatNumber(data[field], "price");
    }
    if (time && data.timestamp) {
      time.setAttribute("datetime", data.timestamp);
      time.textContent = formatTime(data.timestamp, time.dataset.ts || "time");
    }
  }
  markStaleness();
  if (replay) return;
  // The health widget's "last tick" of that symbol.
  const beat = document.querySelector(`[data-heartbeat="${symbol}"] time`);
  if (beat) {
    beat.setAttribute("datetime", new Date().toISOString());
    beat.textContent = formatTime(beat.getAttribute("datetime"), beat.dataset.ts);
  }
  for (const element of document.querySelectorAll(`[data-last-price="${symbol}"]`)) {
    element.textContent = formatNumber(data.mid, "price");
  }
}

function onPosition(data) {
  const row = document.querySelector(`tr[data-position-id="${CSS.escape(String(data.id))}"]`);
  if (!row) return; // the positions region refreshes itself (position.updated:id!position-id)
  if (Number(data.quantity) === 0) {
    regions.refresh("positions");
    return;
  }
  for (const cell of row.querySelectorAll("[data-field]")) {
    const value = data[cell.dataset.field];
    if (value === undefined) continue;
    const text = formatNumber(value, cell.dataset.format);
    if (cell.textContent !== text) {
      cell.textContent = text;
      if (cell.dataset.format === "pnl") setSignClass(cell, value);
    }
  }
}

// The banner every page shows while the kill switch is engaged.
function showKillSwitch(data) {
  const banner = document.querySelector("[data-kill-banner]");
  if (!banner) return;
  banner.hidden = !data.kill_switch_engaged;
  const reason = banner.querySelector("[data-kill-reason]");
  if (reason) reason.textContent = data.kill_switch_reason || "";
}

// After a (re)connection the switch may have moved meanwhile: read it again.
async function refreshKillSwitch() {
  try {
    const response = await fetch("/api/risk/limits", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.ok) showKillSwitch(await response.json());
  } catch (error) {
    // The next event or reconnection tries again.
  }
}

function describeOrder(order) {
  if (!order) return "";
  return `${order.side} ${formatNumber(order.quantity, "qty")} ${order.symbol}`;
}

const handlers = {
  price: onPrice,
  "position.updated": onPosition,
  "risk.tripped": (data) =>
    toast(`Risk guard ${data.guard} refused ${describeOrder(data.order)}: ${data.reason}`, "warn"),
  "risk.kill_switch": (data) => {
    showKillSwitch(data);
    if (data.kill_switch_engaged) toast(`Kill switch ENGAGED: ${data.kill_switch_reason}`, "error", 12000);
    else toast("Kill switch released: orders are allowed again.", "success");
  },
  "strategy.status": (data) => {
    if (data.status === "errored") toast(`${data.name} errored: ${data.last_error}`, "error", 12000);
    if (data.status === "finished") toast(`${data.name} finished.`, "success");
  },
};

function onEvent(event, data) {
  const handler = handlers[event];
  if (handler) {
    try {
      handler(data);
    } catch (error) {
      console.error("xquant: handling", event, error);
    }
  }
  regions.handle(event, data);
  document.dispatchEvent(new CustomEvent("xq:event", { detail: { event, data } }));
}

document.addEventListener("xq:swapped", (event) => {
  for (const data of lastPrices.values()) onPrice(data, { root: event.target, replay: true });
});

// --- staleness ---------------------------------------------------------------------------
// A value nobody refreshed for longer than the server's stale limit (the limit of the
// trader's heartbeat: three ticks, at least 30 s) is greyed with its age, whether the
// trader stopped ticking or this page lost its connection. Health is shown degraded once
// the page has not been live for that long: its dots are what the server said then.
// From the page's load until its first connection too: a socket that never opens is down.
let notLiveSince = Date.now();

function staleLimitMs(element) {
  const seconds = Number(element?.dataset.staleAfter);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 30) * 1000;
}

function markStaleness() {
  const now = Date.now();
  for (const tiles of document.querySelectorAll("[data-stale-after] [data-price-symbol]")) {
    const limit = staleLimitMs(tiles.closest("[data-stale-after]"));
    const rendered = Date.parse(tiles.querySelector("time")?.getAttribute("datetime") || "");
    const seen = Number(tiles.dataset.receivedAt) || rendered;
    const age = now - seen;
    const stale = !Number.isFinite(age) || age > limit;
    tiles.classList.toggle("stale", stale);
    tiles.dataset.stale = String(stale);
    const label = tiles.querySelector("[data-age]");
    if (label) {
      label.textContent = !stale ? "" : Number.isFinite(age) ? `stale · ${formatAge(age)} old` : "no price yet";
    }
  }
  const checks = document.querySelector("[data-health][data-stale-after]");
  const banner = document.querySelector("[data-health-degraded]");
  if (!checks || !banner) return;
  const down = notLiveSince !== null ? now - notLiveSince : 0;
  const degraded = down > staleLimitMs(checks);
  checks.classList.toggle("degraded", degraded);
  for (const row of document.querySelectorAll("[data-heartbeat]")) row.classList.toggle("degraded", degraded);
  banner.hidden = !degraded;
  if (degraded) {
    banner.textContent =
      `Not live for ${formatAge(down)}: health, prices and everything else on this page ` +
      `are as of ${formatTime(new Date(notLiveSince).toISOString(), "time")} and may be out of date.`;
  }
  root.dataset.healthState = degraded ? "degraded" : "live";
}

document.addEventListener("xq:swapped", markStaleness);
setInterval(markStaleness, 1000);

// --- forms and dialogs -------------------------------------------------------------------
async function submitAsync(form, submitter) {
  const buttons = form.querySelectorAll("button[type=submit]");
  buttons.forEach((button) => (button.disabled = true));
  try {
    const body = new FormData(form, submitter);
    // getAttribute, not form.action: a control named "action" (the kill switch's
    // engage/release field) shadows the property, and the POST went to
    // "/[object HTMLInputElement]".
    const response = await fetch(form.getAttribute("action") || location.href, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    let payload = {};
    try {
      payload = await response.json();
    } catch (error) {
      payload = { error: `The server answered ${response.status} ${response.statusText}.` };
    }
    if (!response.ok) {
      toast(payload.error || "That did not work.", "error", 10000);
      return;
    }
    if (payload.preview !== undefined && form.hasAttribute("data-preview-form")) {
      // Step one of two: show what would be sent; the next submit sends it.
      showPreview(form, payload.preview);
      return;
    }
    const dialog = form.closest("dialog");
    if (dialog) dialog.close();
    if (payload.message) toast(payload.message, "success");
    // The service's event refreshes every page; refresh this one now in case the
    // socket is down.
    regions.refreshContaining(form);
  } catch (error) {
    toast("Could not reach the server: nothing was changed.", "error");
  } finally {
    buttons.forEach((button) => (button.disabled = false));
  }
}

// --- two-step forms (Place order): review, then send -----------------------------------
function showPreview(form, text) {
  const box = form.querySelector("[data-preview]");
  box.textContent = text;
  box.hidden = false;
  form.querySelector("[data-confirm]").value = "true";
  form.querySelector("button[type=submit]").textContent = "Send order";
}

function resetPreview(form) {
  const box = form.querySelector("[data-preview]");
  if (!box) return;
  box.hidden = true;
  box.textContent = "";
  form.querySelector("[data-confirm]").value = "";
  const submit = form.querySelector("button[type=submit]");
  submit.textContent = submit.dataset.submitLabel || "Review…";
}

// Any change after the review asks for a new one: what is sent is what was shown.
document.addEventListener("input", (event) => {
  const form = event.target.closest?.("form[data-preview-form]");
  if (!form) return;
  const type = form.querySelector("[data-order-type]");
  const price = form.querySelector("[data-limit-price]");
  if (type && price) {
    price.disabled = type.value !== "LIMIT";
    price.required = type.value === "LIMIT";
  }
  resetPreview(form);
});

// Cancel open orders: the list shows exactly the orders the chosen scope cancels.
function filterCancelList(select) {
  const [kind, value] = select.value.split(":");
  for (const item of select.form.querySelectorAll("[data-cancel-list] li")) {
    item.hidden =
      (kind === "symbol" && item.dataset.symbol !== value) ||
      (kind === "strategy" && item.dataset.strategy !== value);
  }
}
document.addEventListener("change", (event) => {
  if (event.target.matches?.("[data-cancel-scope]")) filterCancelList(event.target);
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-async")) return;
  event.preventDefault();
  if (!form.reportValidity()) return;
  submitAsync(form, event.submitter);
});

document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open-dialog]");
  if (opener) {
    const dialog = document.getElementById(opener.dataset.openDialog);
    if (dialog) {
      const previewForm = dialog.querySelector("form[data-preview-form]");
      if (previewForm) resetPreview(previewForm);
      const scope = dialog.querySelector("[data-cancel-scope]");
      if (scope) filterCancelList(scope);
      dialog.showModal();
      dialog.querySelector("input[type=text]")?.focus();
    }
    return;
  }
  const closer = event.target.closest("[data-close-dialog]");
  if (closer) closer.closest("dialog")?.close();
});

// --- start -------------------------------------------------------------------------------
formatTimes(document);
startRelativeClock(document);
for (const element of document.querySelectorAll("[data-timezone]")) {
  element.textContent = timezoneName();
}

regions = new LiveRegions({
  onLoggedOut: () => connection.stop("logged-out"),
  onError: (region, error) => console.warn(`xquant: could not refresh ${region.name}:`, error),
});

const path = document.body.dataset.wsPath;
const connection = new LiveConnection({
  path,
  onEvent,
  // Whatever happened while the page loaded or the socket was down is read again.
  onOpen: () => {
    lastPrices.clear();
    regions.refreshAll();
    refreshKillSwitch();
    document.dispatchEvent(new CustomEvent("xq:resync"));
  },
  onState: showState,
});
if (path) connection.start();

window.xquant = { connection, regions, toast };
