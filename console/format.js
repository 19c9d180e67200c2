// Times shown relative ("in 3 days") and absolute (UTC), in a <time> element.

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];
const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

export function relativeTime(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return "";
}

export function absoluteTime(iso) {
  return new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** A <time> element: "in 3 days (2026-03-05 10:00:00 UTC)", or the text for no time. */
export function timeElement(iso, none = "never") {
  if (!iso) {
    const span = document.createElement("span");
    span.textContent = none;
    return span;
  }
  const element = document.createElement("time");
  element.dateTime = iso;
  element.textContent = `${relativeTime(iso)} (${absoluteTime(iso)})`;
  return element;
}

/** Lines or commas to a list, empty entries dropped. */
export function splitList(text) {
  return text
    .split(/[\n,]/)
    .map((part) => part.trim())
    .filter(Boolean);
}
