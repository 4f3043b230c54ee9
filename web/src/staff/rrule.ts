// The weekly RFC 5545 rules a series is made of: built from the weekdays staff tick and how
// the series ends, and read back for the list. The server accepts only weekly rules that end
// (UNTIL, a local date, inclusive, or COUNT) and only FREQ, INTERVAL, BYDAY, WKST, UNTIL, COUNT.

export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export function isWeekday(value: string): value is Weekday {
  return (WEEKDAYS as readonly string[]).includes(value);
}

export interface WeeklyRule {
  days: Weekday[];
  /** The last local date ("2027-06-30"), inclusive. */
  until?: string;
  /** How many occurrences in all. */
  count?: number;
  /** Every n-th week (1 when unset). */
  interval?: number;
}

/** "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270630": days in week order, each once. */
export function buildWeeklyRule(rule: WeeklyRule): string {
  const days = WEEKDAYS.filter((d) => rule.days.includes(d));
  if (!days.length) throw new Error("a weekly rule needs at least one weekday");
  const parts = ["FREQ=WEEKLY"];
  if (rule.interval && rule.interval > 1) parts.push(`INTERVAL=${Math.floor(rule.interval)}`);
  parts.push(`BYDAY=${days.join(",")}`);
  if (rule.until) parts.push(`UNTIL=${rule.until.replace(/-/g, "")}`);
  else if (rule.count) parts.push(`COUNT=${Math.floor(rule.count)}`);
  return parts.join(";");
}

/** The parts of a weekly rule, with or without the "RRULE:" prefix; null when it is not one. */
export function parseWeeklyRule(text: string | undefined): WeeklyRule | null {
  if (!text) return null;
  const body = text.trim().replace(/^RRULE:/i, "");
  const fields = new Map<string, string>();
  for (const part of body.split(";")) {
    const [key, value] = part.split("=");
    if (key && value !== undefined) fields.set(key.trim().toUpperCase(), value.trim().toUpperCase());
  }
  if (fields.get("FREQ") !== "WEEKLY") return null;
  // BYDAY may carry an ordinal ("1MO") in general RRULEs; a weekly rule's days are plain.
  const days = (fields.get("BYDAY") ?? "")
    .split(",")
    .map((d) => d.replace(/^[+-]?\d+/, ""))
    .filter(isWeekday);
  const result: WeeklyRule = { days: WEEKDAYS.filter((d) => days.includes(d)) };
  const until = fields.get("UNTIL");
  if (until) {
    const m = /^(\d{4})(\d{2})(\d{2})/.exec(until);
    if (m) result.until = `${m[1]}-${m[2]}-${m[3]}`;
  }
  const count = fields.get("COUNT");
  if (count && /^\d+$/.test(count)) result.count = Number(count);
  const interval = fields.get("INTERVAL");
  if (interval && /^\d+$/.test(interval)) result.interval = Number(interval);
  return result;
}

/** The weekday of a local date ("2027-03-01" → "MO"). */
export function weekdayOf(date: string): Weekday | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDay();
  return WEEKDAYS[(day + 6) % 7] ?? null;
}
