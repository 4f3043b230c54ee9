// What the member pages read from reservations: the member's own status on a class, the
// cancel rules, and lists read page by page.
import type { Api, Query } from "./api/client";
import type { components } from "./api/schema";
import type { MyPageEntry, Reservation, ReservationStatus, YogaClass } from "./api/types";

// Answers the member pages read besides those api/types.ts names.
export type GetClassResponse = components["schemas"]["yoga.yogaclass.v1.GetClassResponse"];
export type CancelReservationResponse =
  components["schemas"]["yoga.reservation.v1.CancelReservationResponse"];
export type GetStudioSettingsResponse =
  components["schemas"]["yoga.yogaclass.v1.GetStudioSettingsResponse"];
import { instant, parseDuration } from "./time";

/** Statuses that still hold or wait for a seat. */
export const ACTIVE: ReadonlySet<ReservationStatus> = new Set([
  "RESERVATION_STATUS_PENDING",
  "RESERVATION_STATUS_CONFIRMED",
  "RESERVATION_STATUS_WAITLISTED",
]);

/** Statuses a class card shows: the active ones, and how a held seat ended (attended, not
 * attended). A cancelled, rejected or expired reservation is no status on the class: the member
 * may book it again. */
const SHOWN: ReadonlySet<ReservationStatus> = new Set([
  ...ACTIVE,
  "RESERVATION_STATUS_ATTENDED",
  "RESERVATION_STATUS_NO_SHOW",
]);

/** "RESERVATION_STATUS_CONFIRMED" -> "CONFIRMED": the key of its translation. */
export function statusName(status: string | undefined): string {
  return (status ?? "RESERVATION_STATUS_UNSPECIFIED").replace(/^RESERVATION_STATUS_/, "");
}

/** "RESERVATION_REASON_LATE_CANCELLED" -> "LATE_CANCELLED"; "" when unspecified. */
export function reasonName(reason: string | undefined): string {
  const name = (reason ?? "").replace(/^RESERVATION_REASON_/, "");
  return name === "UNSPECIFIED" ? "" : name;
}

function changedAt(r: Reservation): number {
  return instant(r.updateTime ?? r.createTime)?.getTime() ?? 0;
}

/** The reservation a class shows as the member's: its latest active one (a member holds at most
 * one), else the latest attended or no-show one. */
export function shownReservation(reservations: Reservation[]): Reservation | null {
  let best: Reservation | null = null;
  for (const r of reservations) {
    if (!r.status || !SHOWN.has(r.status)) continue;
    if (!best) {
      best = r;
      continue;
    }
    const active = ACTIVE.has(r.status);
    const bestActive = ACTIVE.has(best.status!);
    if (active !== bestActive ? active : changedAt(r) > changedAt(best)) best = r;
  }
  return best;
}

/** The member's shown reservation per class id. */
export function shownByClass(reservations: Reservation[]): Map<string, Reservation> {
  const grouped = new Map<string, Reservation[]>();
  for (const r of reservations) {
    if (!r.classId) continue;
    grouped.set(r.classId, [...(grouped.get(r.classId) ?? []), r]);
  }
  const shown = new Map<string, Reservation>();
  for (const [classId, list] of grouped) {
    const r = shownReservation(list);
    if (r) shown.set(classId, r);
  }
  return shown;
}

/** Seats nobody holds. */
export function seatsLeft(c: YogaClass): number {
  return Math.max(0, (c.capacity ?? 0) - (c.booked ?? 0));
}

/** Whether a booking now would wait: no free seat, or others already wait for the next one
 * (a seat is taken directly only while nobody waits). */
export function isFull(c: YogaClass): boolean {
  return seatsLeft(c) === 0 || (c.waiting ?? 0) > 0;
}

/** Whether the queue has room for one more. */
export function waitlistHasRoom(c: YogaClass): boolean {
  return (c.waiting ?? 0) < (c.waitlistCapacity ?? 0);
}

export type BookMode = "book" | "waitlist" | "full";

/** What the book button does for a class: book, join the waitlist, or nothing (full). */
export function bookMode(c: YogaClass): BookMode {
  if (!isFull(c)) return "book";
  return waitlistHasRoom(c) ? "waitlist" : "full";
}

export function isCancelled(c: YogaClass): boolean {
  return c.status === "CLASS_STATUS_CANCELLED";
}

export function hasStarted(c: YogaClass, now: Date): boolean {
  const start = instant(c.startTime);
  return start !== undefined && start.getTime() <= now.getTime();
}

/** The cancellation window a class's bookings are under: its own, else the studio's. */
export function cancellationWindow(c: YogaClass, studioWindow: string | undefined): number | undefined {
  return parseDuration(c.cancellationWindow) ?? parseDuration(studioWindow);
}

/** Whether the member's cancel now is late (a strike): a held seat, inside the window before
 * the start. Leaving the waitlist is never late. */
export function isLateCancel(
  r: Reservation | null,
  c: YogaClass,
  windowMs: number | undefined,
  now: Date,
): boolean {
  if (!r || r.status !== "RESERVATION_STATUS_CONFIRMED" || windowMs === undefined) return false;
  const start = instant(c.startTime ?? r.classStartTime);
  if (!start) return false;
  const left = start.getTime() - now.getTime();
  return left > 0 && left < windowMs;
}

/** Every item of a paged list (`pageSize`/`pageToken`/`nextPageToken`), up to `maxPages`. */
export async function readAll<T, R extends { nextPageToken?: string }>(
  api: Pick<Api, "get">,
  path: string,
  query: Query,
  items: (answer: R) => T[] | undefined,
  maxPages = 50,
): Promise<T[]> {
  const all: T[] = [];
  let token = "";
  for (let page = 0; page < maxPages; page++) {
    const answer = await api.get<R>(path, { ...query, pageToken: token || undefined });
    all.push(...(items(answer) ?? []));
    token = answer.nextPageToken ?? "";
    if (!token) break;
  }
  return all;
}

export interface MyPageSections {
  upcoming: MyPageEntry[];
  past: MyPageEntry[];
}

/** My page's entries as two sections: classes starting at or after `now` (the soonest first),
 * and the rest (the most recent first; a class never found goes last). The service orders them
 * so already; this splits them, and keeps its order. */
export function mypageSections(entries: MyPageEntry[], now: Date): MyPageSections {
  const upcoming: MyPageEntry[] = [];
  const past: MyPageEntry[] = [];
  for (const e of entries) {
    const start = instant(e.classStartTime);
    if (start && start.getTime() >= now.getTime()) upcoming.push(e);
    else past.push(e);
  }
  return { upcoming, past };
}
