// Live updates: one websocket per page, and the page's live regions.
//
// LiveConnection keeps the websocket to /ws/dashboard/ open: it reconnects by itself
// with exponential backoff and jitter after a drop, reports its state (for the
// "reconnecting" indicator), and calls onOpen after every (re)connection so the page can
// catch up on whatever it may have missed while disconnected.
//
// LiveRegions: an element with data-live="name" is a fragment of the page that the
// server renders alone at the page's own URL with ?fragment=name. data-live-on lists the
// events that refresh it, space-separated, each one of:
//   event                    any event of that type
//   event:key=value          only when the payload's key equals value
//   event:key@attr           only when the region holds an element with data-attr="<key>"
//   event:key!attr           only when it does not (a row the region does not show yet)
// data-live-every="N" also refreshes it every N seconds (for ages such as "last tick").
// Refreshes are debounced per region and never overlap.

import { formatTimes } from "./format.js";

const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 30000;

export class LiveConnection {
  constructor({ path, onEvent, onOpen, onState }) {
    this.path = path;
    this.onEvent = onEvent;
    this.onOpen = onOpen;
    this.onState = onState;
    this.failures = 0;
    this.socket = null;
    this.retryTimer = null;
    this.stopped = false;
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}${this.path}`;
  }

  start() {
    this.connect();
    // Come back at once when the network or the tab does, instead of waiting out a backoff.
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  stop(state = "offline", detail = {}) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close();
    this.onState(state, detail);
  }

  reconnectNow() {
    if (this.stopped || (this.socket && this.socket.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  connect() {
    this.onState(this.failures ? "reconnecting" : "connecting", {});
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.failures = 0;
      this.onState("connected", {});
      this.onOpen();
    });
    socket.addEventListener("message", (message) => {
      let parsed;
      try {
        parsed = JSON.parse(message.data);
      } catch (error) {
        console.warn("xquant: unreadable live message", message.data);
        return;
      }
      if (parsed && parsed.event) this.onEvent(parsed.event, parsed.data || {});
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.stopped) this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    this.failures += 1;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** (this.failures - 1));
    // Equal jitter: pages that lost the server together do not all come back at once.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.onState("reconnecting", { retryAt: Date.now() + delay, failures: this.failures });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

function parseRule(token) {
  const colon = token.indexOf(":");
  if (colon < 0) return { event: token };
  const event = token.slice(0, colon);
  const condition = token.slice(colon + 1);
  const match = condition.match(/^([\w.-]+)([=@!])(.*)$/);
  if (!match) return { event };
  return { event, key: match[1], op: match[2], value: match[3] };
}

function ruleMatches(rule, data, element) {
  if (!rule.op) return true;
  const actual = data[rule.key];
  if (rule.op === "=") return String(actual) === rule.value;
  const selector = `[data-${rule.value}="${CSS.escape(String(actual))}"]`;
  const present = element.querySelector(selector) !== null;
  return rule.op === "@" ? present : !present;
}

const DEBOUNCE_MS = 150;
const MAX_WAIT_MS = 1000;
const ROW_IDS = ["order-id", "fill-id", "position-id", "strategy-id"];

export class LiveRegions {
  constructor({ root = document, onLoggedOut = () => {}, onError = () => {} } = {}) {
    this.onLoggedOut = onLoggedOut;
    this.onError = onError;
    this.regions = new Map();
    for (const element of root.querySelectorAll("[data-live]")) {
      const region = {
        name: element.dataset.live,
        element,
        rules: (element.dataset.liveOn || "").split(/\s+/).filter(Boolean).map(parseRule),
        timer: null,
        firstScheduledAt: 0,
        inflight: false,
        again: false,
      };
      this.regions.set(region.name, region);
      const every = Number(element.dataset.liveEvery);
      if (every > 0) setInterval(() => this.schedule(region), every * 1000);
    }
  }

  handle(event, data) {
    for (const region of this.regions.values()) {
      if (region.rules.some((rule) => rule.event === event && ruleMatches(rule, data, region.element))) {
        this.schedule(region);
      }
    }
  }

  /** Refresh every region now: after a (re)connection, events may have been missed. */
  refreshAll() {
    for (const region of this.regions.values()) this.schedule(region, 0);
  }

  refresh(name) {
    const region = this.regions.get(name);
    if (region) this.schedule(region, 0);
  }

  refreshContaining(node) {
    for (const region of this.regions.values()) {
      if (region.element.contains(node)) this.schedule(region, 0);
    }
  }

  schedule(region, delay = DEBOUNCE_MS) {
    const now = Date.now();
    if (!region.timer) region.firstScheduledAt = now;
    clearTimeout(region.timer);
    // Debounced, but a steady stream of events cannot postpone a refresh for ever.
    const wait = now - region.firstScheduledAt >= MAX_WAIT_MS ? 0 : delay;
    region.timer = setTimeout(() => {
      region.timer = null;
      this.load(region);
    }, wait);
  }

  fragmentUrl(name) {
    const url = new URL(window.location.href);
    url.searchParams.set("fragment", name);
    url.hash = "";
    return url;
  }

  busy(region) {
    // Never swap a region under the user's hands: an open dialog or a field being typed in
    // (any kind: a quantity is a number field, and a swap would put its default back).
    const active = document.activeElement;
    return (
      region.element.querySelector("dialog[open]") !== null ||
      (active &&
        region.element.contains(active) &&
        active.matches("input:not([type=hidden]):not([type=submit]):not([type=button]), textarea, select"))
    );
  }

  async load(region) {
    if (region.inflight) {
      region.again = true;
      return;
    }
    if (this.busy(region)) {
      setTimeout(() => this.schedule(region, 0), 1000);
      return;
    }
    region.inflight = true;
    try {
      const response = await fetch(this.fragmentUrl(region.name), {
        credentials: "same-origin",
        cache: "no-store",
        headers: { "X-Requested-With": "fetch" },
      });
      if (response.redirected && new URL(response.url).pathname.startsWith("/accounts/login")) {
        this.onLoggedOut();
        return;
      }
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      const html = await response.text();
      if (this.busy(region)) {
        region.again = true;
        return;
      }
      this.swap(region, html);
    } catch (error) {
      this.onError(region, error);
    } finally {
      region.inflight = false;
      if (region.again) {
        region.again = false;
        this.schedule(region);
      }
    }
  }

  swap(region, html) {
    const seen = new Set();
    for (const attr of ROW_IDS) {
      for (const row of region.element.querySelectorAll(`tr[data-${attr}]`)) {
        seen.add(`${attr}:${row.getAttribute(`data-${attr}`)}`);
      }
    }
    region.element.innerHTML = html;
    formatTimes(region.element);
    if (seen.size > 0) {
      for (const attr of ROW_IDS) {
        for (const row of region.element.querySelectorAll(`tr[data-${attr}]`)) {
          if (!seen.has(`${attr}:${row.getAttribute(`data-${attr}`)}`)) row.classList.add("is-new");
        }
      }
    }
    region.element.dispatchEvent(new CustomEvent("xq:swapped", { bubbles: true }));
  }
}
