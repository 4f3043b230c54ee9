// The booking button's states, apart from how they look. One attempt to book a class has one
// request id, the service's idempotency key: every retry of the attempt (after a network error,
// UNAVAILABLE, or a reload of the page while the request was slow) sends the same id, so the
// member ends up with one reservation however often the request went out. The id is kept per
// class in sessionStorage (this tab only) until the attempt's answer settles: a reservation came
// back, or the service refused in a way a retry would only repeat.
import { reactive } from "vue";
import type { Api } from "./api/client";
import { ApiError, Code } from "./api/errors";
import type { CreateReservationResponse, Reservation } from "./api/types";

export type BookingPhase =
  /** Nothing sent, or the last attempt ended: the button books. */
  | "idle"
  /** The request is out: the button does nothing until it answers. */
  | "booking"
  /** A seat is held (CONFIRMED). */
  | "booked"
  /** In the class's queue (WAITLISTED). */
  | "waitlisted"
  /** Stored, the seat not answered yet (PENDING): the page's polling shows how it ends. */
  | "pending"
  /** The service answered but the booking failed (an error, or REJECTED with a reason). */
  | "error";

export interface BookingState {
  phase: BookingPhase;
  /** The reservation the last answer carried. */
  reservation: Reservation | null;
  /** The last failure: an ApiError (a REJECTED reservation becomes one named by its reason). */
  error: unknown;
  /** The failed attempt may succeed if tried again, and will reuse its request id. */
  retryable: boolean;
}

export interface BookingDeps {
  api: Pick<Api, "post">;
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem">;
  newId?: () => string;
}

const STORAGE_PREFIX = "yoga.booking.";

export function storageKey(classId: string): string {
  return `${STORAGE_PREFIX}${classId}`;
}

/** A random UUID (v4). crypto.randomUUID exists only in secure contexts; the app may be served
 * over plain http inside a studio's network, where getRandomValues still works. */
export function newRequestId(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A REJECTED reservation's reason as an error the page can translate (errors.<REASON>). */
export function rejectionError(reservation: Reservation): ApiError {
  const reason = (reservation.reason ?? "RESERVATION_REASON_UNSPECIFIED").replace(
    /^RESERVATION_REASON_/,
    "",
  );
  return new ApiError(
    Code.FAILED_PRECONDITION,
    reason === "UNSPECIFIED" ? "REJECTED" : reason,
    `the booking was rejected: ${reason}`,
    200,
  );
}

// Answers by which the service decided the request: sending the same request id again would
// only repeat them (a refusal by the booking limit stays stored under its id), so the next try
// is a new attempt with a new id.
const DECIDED: ReadonlySet<number> = new Set([
  Code.INVALID_ARGUMENT,
  Code.NOT_FOUND,
  Code.ALREADY_EXISTS,
  Code.PERMISSION_DENIED,
  Code.FAILED_PRECONDITION,
  Code.OUT_OF_RANGE,
]);

/** Whether an error leaves the attempt open: the request may not have reached the service, or
 * the service could not finish it (network, UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, INTERNAL,
 * an expired session...). A retry must reuse the request id. */
export function keepsAttempt(error: unknown): boolean {
  return !(error instanceof ApiError && DECIDED.has(error.code));
}

const PHASE_BY_STATUS: Partial<Record<NonNullable<Reservation["status"]>, BookingPhase>> = {
  RESERVATION_STATUS_CONFIRMED: "booked",
  RESERVATION_STATUS_ATTENDED: "booked",
  RESERVATION_STATUS_WAITLISTED: "waitlisted",
  RESERVATION_STATUS_PENDING: "pending",
};

export interface Booking {
  readonly state: BookingState;
  /** Books the class (or joins its waitlist: the service decides when the class is full).
   * Does nothing while a request is out. */
  book(): Promise<void>;
  /** The request id an attempt in progress holds (after a failure or a reload), if any. */
  pendingRequestId(): string | null;
  /** Reservations seen elsewhere (the page's polling): one made by the open attempt settles it. */
  observe(reservations: Reservation[]): void;
  /** Back to idle, e.g. once the reservation this booking made was cancelled. */
  reset(): void;
}

export function createBooking(classId: string, deps: BookingDeps): Booking {
  const storage = deps.storage ?? window.sessionStorage;
  const newId = deps.newId ?? newRequestId;
  const key = storageKey(classId);
  const state = reactive<BookingState>({
    phase: "idle",
    reservation: null,
    error: null,
    retryable: false,
  });

  function stored(): string | null {
    try {
      return storage.getItem(key);
    } catch {
      return null; // storage disabled: the attempt lives only in this page
    }
  }
  let memory: string | null = stored();

  function remember(id: string | null): void {
    memory = id;
    try {
      if (id) storage.setItem(key, id);
      else storage.removeItem(key);
    } catch {
      // storage full or disabled: the id still lives in `memory` for this page
    }
  }

  async function book(): Promise<void> {
    // A second click (a double click, Enter held down) while the request is out.
    if (state.phase === "booking") return;
    const requestId = stored() ?? memory ?? newId();
    remember(requestId);
    state.phase = "booking";
    state.error = null;
    state.retryable = false;
    try {
      const answer = await deps.api.post<CreateReservationResponse>("/v1/reservations", {
        classId,
        requestId,
      });
      // The service answered for this request id: the attempt is over, whatever the status.
      remember(null);
      const reservation = answer.reservation ?? null;
      state.reservation = reservation;
      if (reservation?.status === "RESERVATION_STATUS_REJECTED") {
        state.phase = "error";
        state.error = rejectionError(reservation);
        return;
      }
      state.phase = PHASE_BY_STATUS[reservation?.status ?? "RESERVATION_STATUS_UNSPECIFIED"] ?? "pending";
    } catch (error) {
      const open = keepsAttempt(error);
      if (!open) remember(null);
      state.phase = "error";
      state.error = error;
      state.retryable = open;
    }
  }

  return {
    state,
    book,
    pendingRequestId: () => stored() ?? memory,
    observe(reservations) {
      const id = stored() ?? memory;
      if (!id || state.phase === "booking") return;
      if (reservations.some((r) => r.classId === classId && r.requestId === id)) remember(null);
    },
    reset() {
      if (state.phase === "booking") return;
      state.phase = "idle";
      state.error = null;
      state.retryable = false;
      state.reservation = null;
    },
  };
}
