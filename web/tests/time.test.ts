import { describe, expect, it } from "vitest";
import {
  addDays,
  dayKey,
  formatDay,
  formatDayKey,
  formatTime,
  formatTimeRange,
  formatWeek,
  isDayKey,
  parseDuration,
  startOfDay,
  weekBounds,
  weekDays,
  weekOf,
  weekday,
  zoneLabel,
  zoneOffset,
} from "../src/time";

const at = (text: string) => new Date(text);
const HOUR = 3_600_000;

describe("an instant in a zone", () => {
  it("shows 2030-03-04T22:00:00Z in Seoul as Tuesday 07:00", () => {
    const t = at("2030-03-04T22:00:00Z");
    expect(formatDay(t, "Asia/Seoul", "en")).toMatch(/^Tue/);
    expect(formatTime(t, "Asia/Seoul", "en")).toBe("07:00");
    expect(dayKey(t, "Asia/Seoul")).toBe("2030-03-05");
    expect(formatDay(t, "Asia/Seoul", "ko")).toContain("(화)");
    // The same instant is still Monday evening in Berlin.
    expect(formatDay(t, "Europe/Berlin", "en")).toMatch(/^Mon/);
    expect(formatTime(t, "Europe/Berlin", "en")).toBe("23:00");
  });

  it("labels a time with the zone it is in", () => {
    const t = at("2030-03-04T22:00:00Z");
    expect(zoneLabel(t, "Asia/Seoul", "en")).toBe("GMT+9");
    expect(formatTimeRange(t, at("2030-03-04T23:15:00Z"), "Asia/Seoul", "en")).toBe("07:00–08:15 GMT+9");
    expect(formatTimeRange(t, undefined, "America/New_York", "en")).toBe("17:00 EST");
    // Summer time changes the label with the offset.
    expect(zoneLabel(at("2030-07-01T12:00:00Z"), "America/New_York", "en")).toBe("EDT");
  });

  it("shows a zone it does not know in UTC instead of failing", () => {
    expect(formatTime(at("2030-03-04T22:00:00Z"), "Mars/Olympus", "en")).toBe("22:00");
  });

  it("knows a zone's offset, which moves with summer time", () => {
    expect(zoneOffset(at("2030-01-15T12:00:00Z"), "Europe/Berlin")).toBe(1 * HOUR);
    expect(zoneOffset(at("2030-07-15T12:00:00Z"), "Europe/Berlin")).toBe(2 * HOUR);
    expect(zoneOffset(at("2030-07-15T12:00:00Z"), "Asia/Seoul")).toBe(9 * HOUR);
  });
});

describe("weeks", () => {
  it("run Monday to Sunday in the studio's zone", () => {
    // Sunday 23:30 in Seoul is still the week of Monday 4 March, though UTC says Sunday 14:30.
    expect(weekOf(at("2030-03-10T14:30:00Z"), "Asia/Seoul")).toBe("2030-03-04");
    // Monday 00:30 in Seoul (Sunday 15:30 UTC) is the next week.
    expect(weekOf(at("2030-03-10T15:30:00Z"), "Asia/Seoul")).toBe("2030-03-11");
    expect(weekDays("2030-03-04")).toEqual([
      "2030-03-04",
      "2030-03-05",
      "2030-03-06",
      "2030-03-07",
      "2030-03-08",
      "2030-03-09",
      "2030-03-10",
    ]);
    expect(weekday("2030-03-04")).toBe(1);
    expect(weekday("2030-03-10")).toBe(7);
  });

  it("are bounded by local midnights as UTC instants", () => {
    const { start, end } = weekBounds("2030-03-04", "Asia/Seoul");
    expect(start.toISOString()).toBe("2030-03-03T15:00:00.000Z");
    expect(end.toISOString()).toBe("2030-03-10T15:00:00.000Z");
  });

  it("are 167 hours long across the spring change in Berlin, 169 across the autumn one", () => {
    // Summer time starts on Sunday 31 March 2030 at 02:00 (+1 -> +2).
    const spring = weekBounds("2030-03-25", "Europe/Berlin");
    expect(spring.start.toISOString()).toBe("2030-03-24T23:00:00.000Z");
    expect(spring.end.toISOString()).toBe("2030-03-31T22:00:00.000Z");
    expect(spring.end.getTime() - spring.start.getTime()).toBe(167 * HOUR);
    // A class at 07:00 local on that Sunday falls in the week; Monday 00:00 (+2) does not.
    expect(weekOf(at("2030-03-31T05:00:00Z"), "Europe/Berlin")).toBe("2030-03-25");
    expect(weekOf(at("2030-03-31T22:00:00Z"), "Europe/Berlin")).toBe("2030-04-01");
    // Summer time ends on Sunday 27 October 2030 at 03:00 (+2 -> +1).
    const autumn = weekBounds("2030-10-21", "Europe/Berlin");
    expect(autumn.start.toISOString()).toBe("2030-10-20T22:00:00.000Z");
    expect(autumn.end.toISOString()).toBe("2030-10-27T23:00:00.000Z");
    expect(autumn.end.getTime() - autumn.start.getTime()).toBe(169 * HOUR);
  });

  it("start a day where a zone skips midnight at the end of the gap", () => {
    // Beirut moved its clocks from 00:00 to 01:00 on 27 March 2022.
    expect(startOfDay("2022-03-27", "Asia/Beirut").toISOString()).toBe("2022-03-26T22:00:00.000Z");
    expect(startOfDay("2022-03-26", "Asia/Beirut").toISOString()).toBe("2022-03-25T22:00:00.000Z");
  });

  it("are labelled by their dates", () => {
    // ICU puts thin spaces around the dash.
    expect(formatWeek("2030-03-04", "en").replace(/\s/g, " ")).toBe("Mar 4 – 10, 2030");
    expect(formatWeek("2030-03-04", "ko")).toContain("2030");
    expect(formatDayKey("2030-03-05", "en")).toBe("Tue, Mar 5");
  });
});

describe("day keys and durations", () => {
  it("do calendar arithmetic", () => {
    expect(addDays("2030-02-28", 1)).toBe("2030-03-01");
    expect(addDays("2030-01-01", -1)).toBe("2029-12-31");
    expect(isDayKey("2030-02-29")).toBe(false);
    expect(isDayKey("2032-02-29")).toBe(true);
    expect(isDayKey("next week")).toBe(false);
  });

  it("read proto3 JSON durations", () => {
    expect(parseDuration("43200s")).toBe(12 * HOUR);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("")).toBeUndefined();
    expect(parseDuration("12h")).toBeUndefined();
  });
});
