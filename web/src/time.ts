// Instants (the API's UTC timestamps) as a person at the studio reads them: in an IANA zone,
// with Intl only (no date library on the first load). A "day key" is a local date in a zone,
// "2030-03-04"; a week is named by the day key of its Monday. Weeks run Monday to Sunday.

/** Milliseconds, from a proto3 JSON Duration ("3600s", "1.5s"); undefined when unset or bad. */
export function parseDuration(text: string | undefined | null): number | undefined {
  if (!text) return undefined;
  const match = /^(-?\d+(?:\.\d+)?)s$/.exec(text.trim());
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

/** A Date from an RFC 3339 timestamp; undefined when missing or unreadable. */
export function instant(text: string | undefined | null): Date | undefined {
  if (!text) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Whether the runtime knows the zone (a class from a newer zone database may name one it
 * does not); unknown zones are shown in UTC rather than failing the page. */
export function knownZone(zone: string | undefined): string {
  if (!zone) return "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone;
  } catch {
    return "UTC";
  }
}

// DateTimeFormat objects are costly to build and a timetable formats hundreds of times.
const formats = new Map<string, Intl.DateTimeFormat>();
function format(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let found = formats.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(locale, options);
    formats.set(key, found);
  }
  return found;
}

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall clock in `zone` at an instant (an unknown zone reads as UTC). */
export function wallTime(at: Date, zone: string): WallTime {
  const parts = format("en-US", {
    timeZone: knownZone(zone),
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) =>
    Number(parts.find((p) => p.type === type)?.value ?? 0);
  return {
    year: get("year"),
    month: get("month"),
    day: get("day"),
    hour: get("hour") % 24,
    minute: get("minute"),
    second: get("second"),
  };
}

/** The zone's offset from UTC at an instant, in milliseconds (Seoul: +9 h). */
export function zoneOffset(at: Date, zone: string): number {
  const w = wallTime(at, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** The local date of an instant in a zone: "2030-03-05". */
export function dayKey(at: Date, zone: string): string {
  const w = wallTime(at, zone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}

function keyParts(key: string): [number, number, number] {
  const [y, m, d] = key.split("-").map(Number);
  return [y ?? 1970, m ?? 1, d ?? 1];
}

/** The day key `days` after (or before) `key`: calendar arithmetic, zone-free. */
export function addDays(key: string, days: number): string {
  const [y, m, d] = keyParts(key);
  const date = new Date(Date.UTC(y, m - 1, d + days));
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** Whether a string is a day key of a real date. */
export function isDayKey(text: unknown): text is string {
  if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  return addDays(text, 0) === text;
}

/** The first instant of a local date in a zone: its midnight, or the end of a daylight-saving
 * gap when midnight does not exist that day (some zones change their clocks at 00:00). */
export function startOfDay(key: string, zone: string): Date {
  const [y, m, d] = keyParts(key);
  const wall = Date.UTC(y, m - 1, d);
  const hour = 3_600_000;
  // The offsets in force around that midnight; a change happens at most once in a day here.
  const offsets = [
    zoneOffset(new Date(wall - 36 * hour), zone),
    zoneOffset(new Date(wall + 36 * hour), zone),
  ];
  const candidates = offsets
    .map((offset) => new Date(wall - offset))
    .filter((at) => dayKey(at, zone) === key && wallTime(at, zone).hour === 0)
    .sort((a, b) => a.getTime() - b.getTime());
  // Midnight falls in a gap: the day begins where the gap ends, at the instant the old offset
  // would have called midnight.
  return candidates[0] ?? new Date(wall - Math.min(...offsets));
}

/** ISO weekday of a day key: 1 Monday … 7 Sunday. */
export function weekday(key: string): number {
  const [y, m, d] = keyParts(key);
  return ((new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7) + 1;
}

/** The Monday (day key) of the week holding an instant, in a zone. */
export function weekOf(at: Date, zone: string): string {
  const key = dayKey(at, zone);
  return addDays(key, 1 - weekday(key));
}

/** The seven day keys of the week starting on the Monday `monday`. */
export function weekDays(monday: string): string[] {
  return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
}

/** The week (Monday 00:00 to the next Monday 00:00, local) as UTC bounds: [start, end). */
export function weekBounds(monday: string, zone: string): { start: Date; end: Date } {
  return { start: startOfDay(monday, zone), end: startOfDay(addDays(monday, 7), zone) };
}

/** A day heading: "Tue, Mar 5" / "3월 5일 (화)". */
export function formatDayKey(key: string, locale: string): string {
  const [y, m, d] = keyParts(key);
  // Noon UTC of the calendar date, printed in UTC: the date itself, whatever the zone.
  return format(locale, { timeZone: "UTC", weekday: "short", month: "short", day: "numeric" }).format(
    new Date(Date.UTC(y, m - 1, d, 12)),
  );
}

/** The date of an instant in a zone: "Tue, Mar 5" / "3월 5일 (화)". */
export function formatDay(at: Date, zone: string, locale: string): string {
  return format(locale, {
    timeZone: knownZone(zone),
    weekday: "short",
    month: "short",
    day: "numeric",
  }).format(at);
}

/** The date with the year, for lists that span years: "Tue, Mar 5, 2030". */
export function formatDate(at: Date, zone: string, locale: string): string {
  return format(locale, {
    timeZone: knownZone(zone),
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
  }).format(at);
}

/** The time of an instant in a zone, 24-hour: "07:00". */
export function formatTime(at: Date, zone: string, locale: string): string {
  return format(locale, {
    timeZone: knownZone(zone),
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(at);
}

/** The zone's short name at an instant, as the locale writes it: "GMT+9", "EST", "UTC". */
export function zoneLabel(at: Date, zone: string, locale: string): string {
  return zoneName(at, zone, locale, "short");
}

/** The zone's long name: "Korean Standard Time" / "한국 표준시". */
export function zoneLongName(at: Date, zone: string, locale: string): string {
  return zoneName(at, zone, locale, "long");
}

function zoneName(
  at: Date,
  zone: string,
  locale: string,
  style: "short" | "long",
): string {
  const parts = format(locale, { timeZone: knownZone(zone), timeZoneName: style }).formatToParts(at);
  return parts.find((p) => p.type === "timeZoneName")?.value ?? knownZone(zone);
}

/** "07:00–08:00 GMT+9": a class's start and end in its zone, labelled with the zone. */
export function formatTimeRange(
  start: Date,
  end: Date | undefined,
  zone: string,
  locale: string,
): string {
  const from = formatTime(start, zone, locale);
  const to = end ? `–${formatTime(end, zone, locale)}` : "";
  return `${from}${to} ${zoneLabel(start, zone, locale)}`;
}

/** The week's label: "Mar 4 – 10, 2030" / "2030년 3월 4일~10일". */
export function formatWeek(monday: string, locale: string): string {
  const [y, m, d] = keyParts(monday);
  const [y2, m2, d2] = keyParts(addDays(monday, 6));
  return format(locale, { timeZone: "UTC", year: "numeric", month: "short", day: "numeric" }).formatRange(
    new Date(Date.UTC(y, m - 1, d, 12)),
    new Date(Date.UTC(y2, m2 - 1, d2, 12)),
  );
}

/** An instant with its date, time and zone: "Tue, Mar 5, 2030, 07:00 GMT+9". */
export function formatInstant(at: Date, zone: string, locale: string): string {
  return `${formatDate(at, zone, locale)} ${formatTime(at, zone, locale)} ${zoneLabel(at, zone, locale)}`;
}
