import { mount } from "@vue/test-utils";
import { beforeEach, describe, expect, it } from "vitest";
import { Code } from "../src/api/errors";
import type { Reservation } from "../src/api/types";
import { createBooking, newRequestId, storageKey } from "../src/booking";
import BookButton from "../src/components/member/BookButton.vue";
import {
  appGlobal,
  deferred,
  FakeApi,
  flush,
  MemoryStorage,
  offline,
  statusError,
  useLocale,
} from "./support";

const CLASS = "c-1";

function reservation(status: Reservation["status"], extra: Partial<Reservation> = {}): Reservation {
  return { reservationId: "r-1", classId: CLASS, status, ...extra };
}

let ids = 0;
const newId = () => `req-${++ids}`;

function setup() {
  const api = new FakeApi();
  const storage = new MemoryStorage();
  const booking = createBooking(CLASS, { api, storage, newId });
  return { api, storage, booking };
}

const sentIds = (api: FakeApi) =>
  api.callsTo("POST", "/v1/reservations").map((c) => (c.body as { requestId: string }).requestId);

beforeEach(() => {
  ids = 0;
});

describe("the booking state machine", () => {
  it("goes idle -> booking -> booked, and the request id is forgotten once answered", async () => {
    const { api, storage, booking } = setup();
    const answer = deferred<unknown>();
    api.on("POST", "/v1/reservations", () => answer.promise);
    expect(booking.state.phase).toBe("idle");
    const done = booking.book();
    expect(booking.state.phase).toBe("booking");
    expect(storage.getItem(storageKey(CLASS))).toBe("req-1");
    answer.resolve({ reservation: reservation("RESERVATION_STATUS_CONFIRMED", { requestId: "req-1" }) });
    await done;
    expect(booking.state.phase).toBe("booked");
    expect(api.calls[0]?.body).toEqual({ classId: CLASS, requestId: "req-1" });
    expect(storage.getItem(storageKey(CLASS))).toBeNull();
  });

  it("is waitlisted when the service puts the booking in the queue", async () => {
    const { api, booking } = setup();
    api.on("POST", "/v1/reservations", {
      reservation: reservation("RESERVATION_STATUS_WAITLISTED", { waitlistPosition: 2 }),
    });
    await booking.book();
    expect(booking.state.phase).toBe("waitlisted");
    expect(booking.state.reservation?.waitlistPosition).toBe(2);
  });

  it("is pending while the seat is not answered yet", async () => {
    const { api, booking } = setup();
    api.on("POST", "/v1/reservations", { reservation: reservation("RESERVATION_STATUS_PENDING") });
    await booking.book();
    expect(booking.state.phase).toBe("pending");
  });

  it("sends one request for a double click", async () => {
    const { api, booking } = setup();
    const answer = deferred<unknown>();
    api.on("POST", "/v1/reservations", () => answer.promise);
    const first = booking.book();
    const second = booking.book();
    answer.resolve({ reservation: reservation("RESERVATION_STATUS_CONFIRMED") });
    await Promise.all([first, second]);
    expect(sentIds(api)).toEqual(["req-1"]);
    expect(booking.state.phase).toBe("booked");
  });

  it("retries a network failure and UNAVAILABLE with the same request id", async () => {
    const { api, storage, booking } = setup();
    const answers: unknown[] = [
      offline(),
      statusError(503, Code.UNAVAILABLE, "UNAVAILABLE"),
      { reservation: reservation("RESERVATION_STATUS_CONFIRMED") },
    ];
    api.on("POST", "/v1/reservations", () => answers.shift());
    await booking.book();
    expect(booking.state.phase).toBe("error");
    expect(booking.state.retryable).toBe(true);
    expect(storage.getItem(storageKey(CLASS))).toBe("req-1");
    await booking.book();
    expect(booking.state.retryable).toBe(true);
    await booking.book();
    expect(booking.state.phase).toBe("booked");
    expect(sentIds(api)).toEqual(["req-1", "req-1", "req-1"]);
  });

  it("reuses the request id of an attempt a reload interrupted", async () => {
    const storage = new MemoryStorage();
    const api = new FakeApi();
    api.on("POST", "/v1/reservations", () => new Promise(() => undefined)); // never answers
    void createBooking(CLASS, { api, storage, newId }).book();
    // The page reloads: a new booking object, the same tab's storage.
    const again = createBooking(CLASS, { api, storage, newId });
    expect(again.pendingRequestId()).toBe("req-1");
    api.on("POST", "/v1/reservations", { reservation: reservation("RESERVATION_STATUS_CONFIRMED") });
    await again.book();
    expect(sentIds(api)).toEqual(["req-1", "req-1"]);
  });

  it("starts a new attempt after a refusal the service decided", async () => {
    const { api, storage, booking } = setup();
    const answers: unknown[] = [
      statusError(400, Code.FAILED_PRECONDITION, "BOOKING_LIMIT", { limit: "1", held: "1" }),
      { reservation: reservation("RESERVATION_STATUS_CONFIRMED") },
    ];
    api.on("POST", "/v1/reservations", () => answers.shift());
    await booking.book();
    expect(booking.state.phase).toBe("error");
    expect(booking.state.retryable).toBe(false);
    expect(storage.getItem(storageKey(CLASS))).toBeNull();
    await booking.book();
    expect(sentIds(api)).toEqual(["req-1", "req-2"]);
  });

  it("reports a REJECTED booking as an error named by its reason", async () => {
    const { api, booking } = setup();
    api.on("POST", "/v1/reservations", {
      reservation: reservation("RESERVATION_STATUS_REJECTED", { reason: "RESERVATION_REASON_CLASS_FULL" }),
    });
    await booking.book();
    expect(booking.state.phase).toBe("error");
    expect(booking.state.retryable).toBe(false);
    expect((booking.state.error as { reason: string }).reason).toBe("CLASS_FULL");
  });

  it("forgets an open attempt once its reservation shows up elsewhere", async () => {
    const { api, storage, booking } = setup();
    api.on("POST", "/v1/reservations", offline());
    await booking.book();
    booking.observe([reservation("RESERVATION_STATUS_CONFIRMED", { requestId: "other" })]);
    expect(storage.getItem(storageKey(CLASS))).toBe("req-1");
    booking.observe([reservation("RESERVATION_STATUS_CONFIRMED", { requestId: "req-1" })]);
    expect(storage.getItem(storageKey(CLASS))).toBeNull();
  });

  it("makes UUIDs", () => {
    expect(newRequestId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe("the book button", () => {
  function mountButton(mode: "book" | "waitlist" | "full" = "book") {
    const { api, storage, booking } = setup();
    const wrapper = mount(BookButton, { props: { booking, mode }, global: appGlobal(api) });
    return { api, storage, booking, wrapper, button: () => wrapper.get('[data-testid="book-button"]') };
  }

  it("says what it does: book, join the waitlist, or nothing when full", () => {
    useLocale("en");
    expect(mountButton("book").button().text()).toBe("Book");
    expect(mountButton("waitlist").button().text()).toBe("Join the waitlist");
    const full = mountButton("full").button();
    expect(full.attributes("disabled")).toBeDefined();
    useLocale("ko");
    expect(mountButton("book").button().text()).toBe("예약하기");
    expect(mountButton("waitlist").button().text()).toBe("대기 신청");
  });

  it("is busy while booking and sends one request for a double click", async () => {
    useLocale("en");
    const { api, button, booking } = mountButton();
    const answer = deferred<unknown>();
    api.on("POST", "/v1/reservations", () => answer.promise);
    await button().trigger("click");
    await button().trigger("click");
    expect(button().text()).toBe("Booking…");
    expect(button().attributes("aria-busy")).toBe("true");
    answer.resolve({ reservation: reservation("RESERVATION_STATUS_CONFIRMED") });
    await flush();
    expect(api.callsTo("POST", "/v1/reservations")).toHaveLength(1);
    expect(booking.state.phase).toBe("booked");
  });

  it("shows a translated error and retries with the same request id", async () => {
    useLocale("ko");
    const { api, button, wrapper } = mountButton();
    const answers: unknown[] = [offline(), { reservation: reservation("RESERVATION_STATUS_CONFIRMED") }];
    api.on("POST", "/v1/reservations", () => answers.shift());
    await button().trigger("click");
    await flush();
    const alert = wrapper.get('[data-testid="action-error"]');
    expect(alert.attributes("role")).toBe("alert");
    expect(alert.text()).toContain("네트워크");
    expect(button().text()).toBe("다시 시도");
    await button().trigger("click");
    await flush();
    expect(sentIds(api)).toEqual(["req-1", "req-1"]);
    expect(wrapper.find('[data-testid="action-error"]').exists()).toBe(false);
  });

  it("explains a full class in the member's language", async () => {
    useLocale("en");
    const { api, button, wrapper } = mountButton();
    api.on("POST", "/v1/reservations", {
      reservation: reservation("RESERVATION_STATUS_REJECTED", { reason: "RESERVATION_REASON_CLASS_FULL" }),
    });
    await button().trigger("click");
    await flush();
    expect(wrapper.get('[data-testid="action-error"]').text()).toBe("The class is full.");
    expect(button().text()).toBe("Book");
  });
});
