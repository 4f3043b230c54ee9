// Wall-clock times in a named IANA zone ↔ UTC instants, with Intl only (no date library: the
// staff chunk stays small). Staff type the studio's local time; the API keeps UTC timestamps
// and the zone's name.
//
// A local time that does not exist (the hour skipped on a spring-forward day) is read with the
// offset before the gap, and an ambiguous one (the hour repeated on a fall-back day) is its
// first occurrence: the same rule the server applies to series (Python's fold=0), so a class
// typed here lands where the series' own occurrences would.

import { knownZone, wallTime, zoneOffset, type WallTime } from "../time";

const DAY = 86_400_000;

/** The wall clock in `zone` at the instant `ms` (milliseconds since the epoch). */
export function wallTimeAt(ms: number, zone: string): WallTime {
  return wallTime(new Date(ms), zone);
}

function asUtc(w: WallTime): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

/** The zone's offset from UTC at the instant `ms`, in milliseconds (Seoul: +9 h). */
export function offsetAt(ms: number, zone: string): number {
  return zoneOffset(new Date(ms), zone);
}

/** Whether the runtime knows `zone` as an IANA time zone. */
export function isValidZone(zone: string): boolean {
  return zone !== "" && zone.trim() === zone && knownZone(zone) === zone;
}

/** The zone's name as the zone database spells it ("asia/seoul" → "Asia/Seoul"): Intl reads
 *  names in any case, the server only in the database's. An alias keeps its own name (Intl
 *  may resolve "EST" to another zone). */
export function canonicalZone(zone: string): string {
  const name = zone.trim();
  try {
    const resolved = new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
  } catch {
    return name;
  }
}

/** Every zone the runtime knows (for a datalist), or just the given ones when it cannot tell. */
export function knownZones(fallback: string[]): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  try {
    const zones = intl.supportedValuesOf?.("timeZone") ?? [];
    return zones.length ? Array.from(new Set([...fallback, ...zones])) : fallback;
  } catch {
    return fallback;
  }
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * The UTC instant of a local date ("2027-03-28") and time ("02:30") in `zone`, or null when
 * either is not well formed. Correct across daylight-saving changes (see the file's comment).
 */
export function zonedToUtc(date: string, time: string, zone: string): Date | null {
  const d = DATE_RE.exec(date);
  const t = TIME_RE.exec(time);
  if (!d || !t) return null;
  const wall: WallTime = {
    year: Number(d[1]),
    month: Number(d[2]),
    day: Number(d[3]),
    hour: Number(t[1]),
    minute: Number(t[2]),
    second: Number(t[3] ?? 0),
  };
  if (wall.month < 1 || wall.month > 12 || wall.day < 1 || wall.day > 31) return null;
  if (wall.hour > 23 || wall.minute > 59 || wall.second > 59) return null;
  const naive = asUtc(wall);
  // The offsets in force a day either side: a zone changes its offset at most once in a day.
  const before = offsetAt(naive - DAY, zone);
  const after = offsetAt(naive + DAY, zone);
  const fits = [before, after]
    .map((offset) => naive - offset)
    .filter((instant) => asUtc(wallTimeAt(instant, zone)) === naive);
  if (fits.length) return new Date(Math.min(...fits)); // ambiguous: the first occurrence
  return new Date(naive - before); // skipped: read with the offset before the gap
}

/** `zonedToUtc` for a datetime-local input's value ("2027-03-28T02:30"). */
export function localInputToUtc(value: string, zone: string): Date | null {
  const [date, time] = value.split("T");
  return date && time ? zonedToUtc(date, time, zone) : null;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** The local date ("2027-03-28") in `zone` at an instant. */
export function localDate(instant: Date | number, zone: string): string {
  const w = wallTimeAt(typeof instant === "number" ? instant : instant.getTime(), zone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}

/** The local time ("07:00") in `zone` at an instant. */
export function localTime(instant: Date | number, zone: string): string {
  const w = wallTimeAt(typeof instant === "number" ? instant : instant.getTime(), zone);
  return `${pad(w.hour)}:${pad(w.minute)}`;
}

/** A datetime-local input's value ("2027-03-28T07:00") for an instant shown in `zone`. */
export function utcToLocalInput(instant: Date | string, zone: string): string {
  const ms = typeof instant === "string" ? Date.parse(instant) : instant.getTime();
  return `${localDate(ms, zone)}T${localTime(ms, zone)}`;
}

/** Today's date in `zone`. */
export function todayIn(zone: string, now: number = Date.now()): string {
  return localDate(now, zone);
}

/** A local date `days` later ("2027-03-28" + 7 → "2027-04-04"). */
export function addDays(date: string, days: number): string {
  const d = DATE_RE.exec(date);
  if (!d) return date;
  const t = new Date(Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]) + days));
  return `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** The zone's short name at an instant in the reader's language ("KST", "GMT+9", "CEST"). */
export function zoneAbbreviation(zone: string, locale: string, instant: Date | number = Date.now()): string {
  try {
    const parts = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: "short" }).formatToParts(
      typeof instant === "number" ? new Date(instant) : instant,
    );
    return parts.find((p) => p.type === "timeZoneName")?.value ?? zone;
  } catch {
    return zone;
  }
}

/** "Asia/Seoul (GMT+9)": the zone's name with its offset now, shown beside time inputs. */
export function zoneLabel(zone: string, locale: string, instant: Date | number = Date.now()): string {
  if (!isValidZone(zone)) return zone;
  const short = zoneAbbreviation(zone, locale, instant);
  return short && short !== zone ? `${zone} (${short})` : zone;
}

/** A start time for people: the date and time in the class's zone, with the zone's short name. */
export function formatInZone(instant: string | Date | undefined, zone: string, locale: string): string {
  if (!instant) return "";
  const when = typeof instant === "string" ? new Date(instant) : instant;
  if (Number.isNaN(when.getTime())) return "";
  const timeZone = isValidZone(zone) ? zone : "UTC";
  return new Intl.DateTimeFormat(locale, {
    timeZone,
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).format(when);
}

/** A class's start–end in its zone with the zone's short name; the date once when both fall on it. */
export function formatRange(
  start: string | undefined,
  end: string | undefined,
  zone: string,
  locale: string,
): string {
  if (!start) return "";
  if (!end) return formatInZone(start, zone, locale);
  const from = new Date(start);
  const to = new Date(end);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || to < from) {
    return formatInZone(start, zone, locale);
  }
  return new Intl.DateTimeFormat(locale, {
    timeZone: isValidZone(zone) ? zone : "UTC",
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).formatRange(from, to);
}

/** A local date ("2027-03-01") for people, read as a calendar date (no zone shifts it). */
export function formatDate(date: string | undefined, locale: string): string {
  const d = date ? DATE_RE.exec(date) : null;
  if (!d) return date ?? "";
  return new Intl.DateTimeFormat(locale, {
    timeZone: "UTC",
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
  }).format(new Date(Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]))));
}
