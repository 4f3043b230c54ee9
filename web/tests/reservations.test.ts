import { describe, expect, it } from "vitest";
import type { MyPageEntry, Reservation, YogaClass } from "../src/api/types";
import {
  bookMode,
  cancellationWindow,
  isLateCancel,
  mypageSections,
  readAll,
  seatsLeft,
  shownByClass,
  shownReservation,
} from "../src/reservations";
import { FakeApi } from "./support";

const HOUR = 3_600_000;
const now = new Date("2030-03-04T00:00:00Z");

function entry(id: string, start: string | undefined, status: MyPageEntry["status"]): MyPageEntry {
  return { reservationId: id, classId: `c-${id}`, classTitle: id, classStartTime: start, status };
}

describe("my page", () => {
  it("groups entries into upcoming and past around now, keeping the service's order", () => {
    const entries = [
      entry("soon", "2030-03-04T01:00:00Z", "RESERVATION_STATUS_CONFIRMED"),
      entry("later", "2030-03-10T01:00:00Z", "RESERVATION_STATUS_WAITLISTED"),
      entry("now", "2030-03-04T00:00:00Z", "RESERVATION_STATUS_CONFIRMED"),
      entry("yesterday", "2030-03-03T01:00:00Z", "RESERVATION_STATUS_ATTENDED"),
      entry("last-week", "2030-02-25T01:00:00Z", "RESERVATION_STATUS_CANCELLED"),
      entry("unknown-class", undefined, "RESERVATION_STATUS_REJECTED"),
    ];
    const { upcoming, past } = mypageSections(entries, now);
    expect(upcoming.map((e) => e.reservationId)).toEqual(["soon", "later", "now"]);
    expect(past.map((e) => e.reservationId)).toEqual(["yesterday", "last-week", "unknown-class"]);
  });

  it("is read page by page to the end", async () => {
    const api = new FakeApi().on("GET", "/v1/users/me/mypage", (call: { query?: { pageToken?: string } }) =>
      call.query?.pageToken === "p2"
        ? { entries: [entry("b", undefined, "RESERVATION_STATUS_CONFIRMED")] }
        : { entries: [entry("a", undefined, "RESERVATION_STATUS_CONFIRMED")], nextPageToken: "p2" },
    );
    const all = await readAll<MyPageEntry, { entries?: MyPageEntry[]; nextPageToken?: string }>(
      api,
      "/v1/users/me/mypage",
      { pageSize: 100 },
      (a) => a.entries,
    );
    expect(all.map((e) => e.reservationId)).toEqual(["a", "b"]);
    expect(api.calls.map((c) => c.query)).toEqual([
      { pageSize: 100, pageToken: undefined },
      { pageSize: 100, pageToken: "p2" },
    ]);
  });
});

function res(id: string, classId: string, status: Reservation["status"], updateTime: string): Reservation {
  return { reservationId: id, classId, status, updateTime };
}

describe("the member's status on a class", () => {
  it("is the active reservation, else how the last seat ended; never a cancelled one", () => {
    const shown = shownByClass([
      res("1", "a", "RESERVATION_STATUS_CANCELLED", "2030-03-01T00:00:00Z"),
      res("2", "a", "RESERVATION_STATUS_WAITLISTED", "2030-03-02T00:00:00Z"),
      res("3", "a", "RESERVATION_STATUS_REJECTED", "2030-03-03T00:00:00Z"),
      res("4", "b", "RESERVATION_STATUS_CANCELLED", "2030-03-01T00:00:00Z"),
      res("5", "c", "RESERVATION_STATUS_ATTENDED", "2030-03-01T00:00:00Z"),
    ]);
    expect(shown.get("a")?.reservationId).toBe("2");
    expect(shown.has("b")).toBe(false);
    expect(shown.get("c")?.status).toBe("RESERVATION_STATUS_ATTENDED");
    expect(shownReservation([])).toBeNull();
  });
});

function yogaClass(extra: Partial<YogaClass>): YogaClass {
  return { classId: "c", capacity: 2, startTime: "2030-03-04T10:00:00Z", ...extra };
}

describe("a class's seats", () => {
  it("decide whether the button books, joins the waitlist or cannot", () => {
    expect(seatsLeft(yogaClass({ booked: 1 }))).toBe(1);
    expect(bookMode(yogaClass({ booked: 1 }))).toBe("book");
    expect(bookMode(yogaClass({ booked: 2, waitlistCapacity: 2 }))).toBe("waitlist");
    expect(bookMode(yogaClass({ booked: 2, waitlistCapacity: 2, waiting: 2 }))).toBe("full");
    expect(bookMode(yogaClass({ booked: 2 }))).toBe("full");
    // Someone waits already: a seat freed goes to them, so a newcomer queues too.
    expect(bookMode(yogaClass({ booked: 1, waitlistCapacity: 2, waiting: 1 }))).toBe("waitlist");
  });
});

describe("a late cancel", () => {
  const confirmed: Reservation = { reservationId: "r", status: "RESERVATION_STATUS_CONFIRMED" };
  const c = yogaClass({ startTime: "2030-03-04T10:00:00Z" }); // 10 h after `now`

  it("is a confirmed seat cancelled inside the window before the start", () => {
    const window = cancellationWindow(c, "43200s");
    expect(window).toBe(12 * HOUR);
    expect(isLateCancel(confirmed, c, window, now)).toBe(true);
    expect(isLateCancel(confirmed, c, 6 * HOUR, now)).toBe(false);
    // The class's own window wins over the studio's.
    expect(cancellationWindow(yogaClass({ cancellationWindow: "3600s" }), "43200s")).toBe(HOUR);
  });

  it("is never leaving the waitlist, nor a cancel after the start", () => {
    const waiting: Reservation = { reservationId: "r", status: "RESERVATION_STATUS_WAITLISTED" };
    expect(isLateCancel(waiting, c, 12 * HOUR, now)).toBe(false);
    expect(isLateCancel(confirmed, c, 12 * HOUR, new Date("2030-03-04T11:00:00Z"))).toBe(false);
  });
});
