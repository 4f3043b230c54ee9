import { describe, expect, it } from "vitest";
import { durationFrom, durationIn, formatDuration, minutesBetween, parseDuration } from "../src/staff/durations";

describe("parseDuration", () => {
  it("reads proto3 JSON durations", () => {
    expect(parseDuration("3600s")).toBe(3600);
    expect(parseDuration("0s")).toBe(0);
    expect(parseDuration("1.5s")).toBe(1.5);
    expect(parseDuration("0.000000001s")).toBeCloseTo(1e-9);
    expect(parseDuration("-30s")).toBe(-30);
  });

  it("is null for anything else", () => {
    expect(parseDuration(undefined)).toBeNull();
    expect(parseDuration("")).toBeNull();
    expect(parseDuration("3600")).toBeNull();
    expect(parseDuration("1h")).toBeNull();
    expect(parseDuration("PT1H")).toBeNull();
  });
});

describe("units", () => {
  it("shows a duration in the unit its label names", () => {
    expect(durationIn("43200s", "hours")).toBe(12);
    expect(durationIn("5400s", "hours")).toBe(1.5);
    expect(durationIn("1800s", "minutes")).toBe(30);
    expect(durationIn("4838400s", "days")).toBe(56);
    expect(durationIn("100s", "hours")).toBe(0.03);
    expect(durationIn(undefined, "hours")).toBeNull();
  });

  it("sends whole seconds", () => {
    expect(durationFrom(12, "hours")).toBe("43200s");
    expect(durationFrom("1.5", "hours")).toBe("5400s");
    expect(durationFrom("1,5", "hours")).toBe("5400s");
    expect(durationFrom(0.3333, "minutes")).toBe("20s");
    expect(durationFrom(7, "days")).toBe("604800s");
    expect(durationFrom("", "hours")).toBeNull();
    expect(durationFrom("soon", "hours")).toBeNull();
    expect(formatDuration(59.6)).toBe("60s");
  });

  it("measures a class's length in minutes", () => {
    expect(minutesBetween("2027-03-01T00:00:00Z", "2027-03-01T01:15:00Z")).toBe(75);
    expect(minutesBetween(undefined, "2027-03-01T01:15:00Z")).toBeNull();
  });
});
