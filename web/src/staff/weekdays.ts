// Weekday names in the reader's language, from Intl (no translation table to keep in step).
import { WEEKDAYS, type Weekday } from "./rrule";

/** 2024-01-01 was a Monday: day i of that week is WEEKDAYS[i]. */
function weekdayName(day: Weekday, locale: string, width: "long" | "short"): string {
  const i = WEEKDAYS.indexOf(day);
  return new Intl.DateTimeFormat(locale, { weekday: width, timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + i)));
}

export function weekdayNames(locale: string, width: "long" | "short" = "long"): Record<Weekday, string> {
  return Object.fromEntries(WEEKDAYS.map((d) => [d, weekdayName(d, locale, width)])) as Record<Weekday, string>;
}

/** "Mon, Wed" in the reader's language. */
export function formatDays(days: Weekday[], locale: string): string {
  const names = weekdayNames(locale, "short");
  const list = new Intl.ListFormat(locale, { style: "short", type: "unit" });
  return list.format(days.map((d) => names[d]));
}
