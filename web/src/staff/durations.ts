// google.protobuf.Duration in proto3 JSON ("3600s", "0.5s", "-1.5s") ↔ the units a person
// edits (minutes, hours, days). The studio's durations are whole seconds; the server refuses
// anything else, so conversions back round to the second.

export type DurationUnit = "seconds" | "minutes" | "hours" | "days";

export const UNIT_SECONDS: Record<DurationUnit, number> = {
  seconds: 1,
  minutes: 60,
  hours: 3600,
  days: 86400,
};

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** The seconds a proto3 JSON duration holds, or null when it is missing or malformed. */
export function parseDuration(text: string | undefined | null): number | null {
  if (text === undefined || text === null) return null;
  const m = DURATION_RE.exec(text.trim());
  if (!m) return null;
  const whole = Number(m[2]);
  const fraction = m[3] ? Number(`0.${m[3]}`) : 0;
  const seconds = whole + fraction;
  return m[1] ? -seconds : seconds;
}

/** A proto3 JSON duration of whole seconds ("3600s"). */
export function formatDuration(seconds: number): string {
  return `${Math.round(seconds)}s`;
}

/** A duration in `unit`, rounded to at most `digits` decimals (90 min in hours: 1.5). */
export function durationIn(text: string | undefined | null, unit: DurationUnit, digits = 2): number | null {
  const seconds = parseDuration(text);
  if (seconds === null) return null;
  const factor = 10 ** digits;
  return Math.round((seconds / UNIT_SECONDS[unit]) * factor) / factor;
}

/** The proto3 JSON duration of an amount in `unit` (1.5 hours → "5400s"), or null when the
 *  amount is not a number. */
export function durationFrom(amount: number | string | null | undefined, unit: DurationUnit): string | null {
  if (amount === null || amount === undefined || amount === "") return null;
  const value = typeof amount === "number" ? amount : Number(String(amount).replace(",", "."));
  if (!Number.isFinite(value)) return null;
  return formatDuration(value * UNIT_SECONDS[unit]);
}

/** Minutes between two RFC 3339 instants (a class's length), or null. */
export function minutesBetween(start: string | undefined, end: string | undefined): number | null {
  if (!start || !end) return null;
  const ms = Date.parse(end) - Date.parse(start);
  return Number.isFinite(ms) ? Math.round(ms / 60_000) : null;
}
