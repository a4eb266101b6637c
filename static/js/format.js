// Number and time formatting, the same rules as trading/templatetags/xquant_format.py,
// so a value updated live looks exactly like one the server rendered.
//
// Times arrive as UTC ISO strings (in <time datetime> or in event payloads) and are shown
// in the browser's own timezone.

export const DASH = "—";
export const MINUS = "−";

const numberFormats = new Map();

function numberFormat(decimals) {
  let format = numberFormats.get(decimals);
  if (!format) {
    format = new Intl.NumberFormat("en-US", {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    });
    numberFormats.set(decimals, format);
  }
  return format;
}

export function priceDecimals(n) {
  const magnitude = Math.abs(n);
  if (magnitude >= 100) return 2;
  if (magnitude >= 1) return 4;
  return 6;
}

function grouped(n, decimals) {
  const text = numberFormat(decimals).format(Math.abs(n));
  return n < 0 && /[1-9]/.test(text) ? MINUS + text : text;
}

/** Decimals of a quantity without trailing zeros, at most 8 ("0.0100" -> 2), as the
 * server's qty filter counts them (rounded to 8 places first). */
function significantDecimals(value) {
  const fixed = Math.abs(Number(value)).toFixed(8).replace(/0+$/, "");
  const dot = fixed.indexOf(".");
  return dot < 0 ? 0 : fixed.length - dot - 1;
}

/** kind: price, qty, money or pnl (signed money). Values are decimal strings or numbers. */
export function formatNumber(value, kind) {
  if (value === null || value === undefined || value === "") return DASH;
  const n = Number(value);
  if (!Number.isFinite(n)) return DASH;
  switch (kind) {
    case "price":
      return grouped(n, priceDecimals(n));
    case "qty":
      return grouped(n, significantDecimals(value));
    case "pnl": {
      const text = grouped(n, 2);
      return n > 0 && /[1-9]/.test(text) ? `+${text}` : text;
    }
    default:
      return grouped(n, 2);
  }
}

/** CSS class of a signed amount: pos, neg or flat. */
export function signClass(value) {
  const n = Number(value);
  if (!Number.isFinite(n) || n === 0) return "flat";
  return n > 0 ? "pos" : "neg";
}

export function setSignClass(element, value) {
  element.classList.remove("pos", "neg", "flat");
  element.classList.add(signClass(value));
}

const pad = (n) => String(n).padStart(2, "0");

function localParts(date) {
  return {
    date: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`,
    time: `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`,
  };
}

export function relative(date, now = Date.now()) {
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 0) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** Text of a UTC ISO time in the user's timezone; style: datetime, time, date, short
 * (the time alone when it is today), relative. */
export function formatTime(iso, style = "datetime") {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return DASH;
  const parts = localParts(date);
  switch (style) {
    case "time":
      return parts.time;
    case "date":
      return parts.date;
    case "relative":
      return relative(date);
    case "short":
      // Today: the time alone; another day: month-day and minutes.
      return parts.date === localParts(new Date()).date
        ? parts.time
        : `${parts.date.slice(5)} ${parts.time.slice(0, 5)}`;
    default:
      return `${parts.date} ${parts.time}`;
  }
}

/** Rewrites every <time data-ts> under root in the user's timezone. */
export function formatTimes(root = document) {
  for (const element of root.querySelectorAll("time[data-ts]")) {
    const iso = element.getAttribute("datetime");
    if (!iso) continue;
    element.textContent = formatTime(iso, element.dataset.ts);
    if (element.dataset.ts === "relative" || element.dataset.ts === "short") {
      element.title = formatTime(iso, "datetime");
    }
  }
}

export function timezoneName() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
}

/** Keeps "3 s ago" texts current. */
export function startRelativeClock(root = document) {
  setInterval(() => {
    for (const element of root.querySelectorAll('time[data-ts="relative"]')) {
      const iso = element.getAttribute("datetime");
      if (iso) element.textContent = formatTime(iso, "relative");
    }
  }, 1000);
}

/** "45 s", "3 min", "2 h": how old something is, for staleness labels. */
export function formatAge(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}
