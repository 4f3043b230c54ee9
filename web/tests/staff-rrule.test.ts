import { describe, expect, it } from "vitest";
import { buildWeeklyRule, parseWeeklyRule, weekdayOf } from "../src/staff/rrule";
import { formatDays } from "../src/staff/weekdays";

describe("buildWeeklyRule", () => {
  it("lists the chosen weekdays in week order, each once", () => {
    expect(buildWeeklyRule({ days: ["WE", "MO", "WE"], count: 6 })).toBe("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6");
  });

  it("ends on a local date (UNTIL, inclusive) written without dashes", () => {
    expect(buildWeeklyRule({ days: ["TU", "TH"], until: "2027-06-30" })).toBe(
      "FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270630",
    );
  });

  it("prefers UNTIL when both ends are given, and writes an interval above 1", () => {
    expect(buildWeeklyRule({ days: ["SU"], until: "2027-06-30", count: 3, interval: 2 })).toBe(
      "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;UNTIL=20270630",
    );
  });

  it("needs a weekday", () => {
    expect(() => buildWeeklyRule({ days: [], count: 3 })).toThrow();
  });
});

describe("parseWeeklyRule", () => {
  it("reads what the server stores, with or without the RRULE: prefix", () => {
    expect(parseWeeklyRule("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270630")).toEqual({
      days: ["MO", "WE"],
      until: "2027-06-30",
    });
    expect(parseWeeklyRule("FREQ=WEEKLY;WKST=MO;BYDAY=FR,TU;COUNT=10;INTERVAL=2")).toEqual({
      days: ["TU", "FR"],
      count: 10,
      interval: 2,
    });
  });

  it("reads an UNTIL with a time part as its date", () => {
    expect(parseWeeklyRule("FREQ=WEEKLY;BYDAY=SA;UNTIL=20270630T235959Z")?.until).toBe("2027-06-30");
  });

  it("is null for what is not a weekly rule", () => {
    expect(parseWeeklyRule("FREQ=DAILY;COUNT=3")).toBeNull();
    expect(parseWeeklyRule("")).toBeNull();
    expect(parseWeeklyRule(undefined)).toBeNull();
  });

  it("round-trips a built rule", () => {
    const rule = { days: ["MO" as const, "FR" as const], until: "2028-01-31" };
    expect(parseWeeklyRule(buildWeeklyRule(rule))).toEqual(rule);
  });
});

describe("weekdays", () => {
  it("knows a date's weekday", () => {
    expect(weekdayOf("2027-03-01")).toBe("MO");
    expect(weekdayOf("2027-03-07")).toBe("SU");
    expect(weekdayOf("nope")).toBeNull();
  });

  it("names days in the reader's language", () => {
    expect(formatDays(["MO", "WE"], "en")).toBe("Mon, Wed");
    expect(formatDays(["MO", "WE"], "ko")).toContain("월");
  });
});
