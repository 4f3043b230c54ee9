import { describe, expect, it } from "vitest";
import {
  addDays,
  canonicalZone,
  formatRange,
  isValidZone,
  localDate,
  localInputToUtc,
  offsetAt,
  todayIn,
  utcToLocalInput,
  zoneLabel,
  zonedToUtc,
} from "../src/staff/zoned";

const iso = (d: Date | null) => d?.toISOString() ?? null;

describe("zonedToUtc", () => {
  it("reads a Seoul wall time (UTC+9, no daylight saving) as the instant nine hours earlier", () => {
    expect(iso(zonedToUtc("2027-03-01", "07:00", "Asia/Seoul"))).toBe("2027-02-28T22:00:00.000Z");
    expect(iso(zonedToUtc("2027-07-01", "00:30", "Asia/Seoul"))).toBe("2027-06-30T15:30:00.000Z");
  });

  it("keeps 07:00 at 07:00 in Berlin across the spring-forward day, moving the UTC instant", () => {
    // 2027-03-28: clocks go from 02:00 CET (+1) to 03:00 CEST (+2).
    expect(iso(zonedToUtc("2027-03-27", "07:00", "Europe/Berlin"))).toBe("2027-03-27T06:00:00.000Z");
    expect(iso(zonedToUtc("2027-03-28", "07:00", "Europe/Berlin"))).toBe("2027-03-28T05:00:00.000Z");
    expect(iso(zonedToUtc("2027-03-28", "01:59", "Europe/Berlin"))).toBe("2027-03-28T00:59:00.000Z");
    expect(iso(zonedToUtc("2027-03-28", "03:00", "Europe/Berlin"))).toBe("2027-03-28T01:00:00.000Z");
  });

  it("reads a skipped time with the offset before the gap, as the server does (fold=0)", () => {
    // 02:30 does not exist in Berlin on 2027-03-28: read at +1, it is 03:30 CEST.
    const skipped = zonedToUtc("2027-03-28", "02:30", "Europe/Berlin");
    expect(iso(skipped)).toBe("2027-03-28T01:30:00.000Z");
    expect(utcToLocalInput(skipped!, "Europe/Berlin")).toBe("2027-03-28T03:30");
    // The README's example: 02:30 in New York on 14 March 2027 starts at 03:30.
    const ny = zonedToUtc("2027-03-14", "02:30", "America/New_York");
    expect(iso(ny)).toBe("2027-03-14T07:30:00.000Z");
    expect(utcToLocalInput(ny!, "America/New_York")).toBe("2027-03-14T03:30");
  });

  it("takes the first of a repeated time on the fall-back day (still summer time)", () => {
    // 2027-10-31: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    expect(iso(zonedToUtc("2027-10-31", "02:30", "Europe/Berlin"))).toBe("2027-10-31T00:30:00.000Z");
    expect(iso(zonedToUtc("2027-10-31", "03:30", "Europe/Berlin"))).toBe("2027-10-31T02:30:00.000Z");
  });

  it("refuses malformed dates and times", () => {
    expect(zonedToUtc("2027-3-1", "07:00", "Asia/Seoul")).toBeNull();
    expect(zonedToUtc("2027-03-01", "7am", "Asia/Seoul")).toBeNull();
    expect(zonedToUtc("2027-13-01", "07:00", "Asia/Seoul")).toBeNull();
    expect(localInputToUtc("", "Asia/Seoul")).toBeNull();
  });

  it("round-trips a datetime-local value through UTC in the zone", () => {
    for (const zone of ["Asia/Seoul", "Europe/Berlin", "America/New_York", "UTC"]) {
      const value = "2027-06-15T18:45";
      expect(utcToLocalInput(localInputToUtc(value, zone)!, zone)).toBe(value);
    }
  });
});

describe("zone helpers", () => {
  it("knows the offsets on either side of Berlin's change", () => {
    expect(offsetAt(Date.parse("2027-03-28T00:59:00Z"), "Europe/Berlin")).toBe(3_600_000);
    expect(offsetAt(Date.parse("2027-03-28T01:00:00Z"), "Europe/Berlin")).toBe(7_200_000);
    expect(offsetAt(Date.parse("2027-03-28T01:00:00Z"), "Asia/Seoul")).toBe(9 * 3_600_000);
  });

  it("tells the date in the zone, which differs from UTC's near midnight", () => {
    const now = Date.parse("2027-03-01T16:00:00Z"); // 01:00 on 2 March in Seoul
    expect(todayIn("Asia/Seoul", now)).toBe("2027-03-02");
    expect(todayIn("Europe/Berlin", now)).toBe("2027-03-01");
    expect(localDate(now, "UTC")).toBe("2027-03-01");
    expect(addDays("2027-02-26", 3)).toBe("2027-03-01");
  });

  it("checks and spells zone names", () => {
    expect(isValidZone("Asia/Seoul")).toBe(true);
    expect(isValidZone("Asia")).toBe(false);
    expect(isValidZone("Mars/Olympus")).toBe(false);
    expect(isValidZone(" Asia/Seoul")).toBe(false);
    expect(canonicalZone("asia/seoul")).toBe("Asia/Seoul");
    expect(zoneLabel("Asia/Seoul", "en")).toMatch(/^Asia\/Seoul \(.+\)$/);
  });

  it("shows a class's start and end in its own zone with the zone's short name", () => {
    const text = formatRange("2027-03-01T00:00:00Z", "2027-03-01T01:00:00Z", "Asia/Seoul", "en");
    expect(text).toContain("09:00");
    expect(text).toContain("10:00");
    expect(text).toMatch(/GMT\+9|KST/);
    const berlin = formatRange("2027-03-28T05:00:00Z", "2027-03-28T06:00:00Z", "Europe/Berlin", "en");
    expect(berlin).toContain("07:00");
    expect(berlin).toMatch(/GMT\+2|CEST/);
  });
});
