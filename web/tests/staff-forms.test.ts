import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { networkError } from "../src/api/errors";
import ClassFormView from "../src/views/staff/ClassFormView.vue";
import MemberStandingView from "../src/views/staff/MemberStandingView.vue";
import RosterView from "../src/views/staff/RosterView.vue";
import SeriesFormView from "../src/views/staff/SeriesFormView.vue";
import SettingsView from "../src/views/staff/SettingsView.vue";
import StaffClassesView from "../src/views/staff/StaffClassesView.vue";
import { badRequest, byTestId, failedPrecondition, fakeApi, mountStaff, type Call } from "./staff-support";

let mounted: VueWrapper | null = null;
afterEach(() => {
  mounted?.unmount();
  mounted = null;
});

/** The violations shown for `testid`'s input: the element its aria-describedby names. */
function describedErrors(w: VueWrapper, testid: string): string[] {
  const input = byTestId(w, testid);
  const ids = (input.attributes("aria-describedby") ?? "").split(" ").filter(Boolean);
  return ids
    .map((id) => document.getElementById(id))
    .filter((el): el is HTMLElement => !!el && el.classList.contains("field-error"))
    .map((el) => el.textContent?.trim() ?? "");
}

/** The field (label, input, errors) an element sits in. */
const fieldOf = (w: VueWrapper, testid: string) => byTestId(w, testid).element.closest(".field");

describe("class form", () => {
  it("shows each field violation next to its own field, linked by aria-describedby", async () => {
    const api = fakeApi(() => {
      throw badRequest([
        ["yoga_class.capacity", "must be between 1 and 1000"],
        ["yoga_class.start_time", "must be in the future"],
        ["yoga_class.end_time", "a class lasts at most 12 hours"],
      ]);
    });
    const { wrapper } = await mountStaff(ClassFormView, { api, route: "/staff/classes/new" });
    mounted = wrapper;
    await byTestId(wrapper, "class-title-input").setValue("Vinyasa");
    await byTestId(wrapper, "class-start-input").setValue("2027-03-01T07:00");
    await byTestId(wrapper, "class-capacity-input").setValue("0");
    await byTestId(wrapper, "class-form").trigger("submit");
    await flushPromises();

    const capacityError = byTestId(wrapper, "error-capacity");
    expect(capacityError.text()).toBe("must be between 1 and 1000");
    expect(fieldOf(wrapper, "error-capacity")).toBe(fieldOf(wrapper, "class-capacity-input"));
    expect(describedErrors(wrapper, "class-capacity-input")).toEqual(["must be between 1 and 1000"]);
    expect(byTestId(wrapper, "class-capacity-input").attributes("aria-invalid")).toBe("true");

    expect(describedErrors(wrapper, "class-start-input")).toEqual(["must be in the future"]);
    // The end is the start plus the length: its violation is the length field's.
    expect(describedErrors(wrapper, "class-duration-input")).toEqual(["a class lasts at most 12 hours"]);
    expect(byTestId(wrapper, "error-title").exists()).toBe(false);
    expect(byTestId(wrapper, "class-title-input").attributes("aria-invalid")).toBeUndefined();
    expect(byTestId(wrapper, "form-error").attributes("role")).toBe("alert");
  });

  it("sends the studio's wall time as UTC, and one request id per attempt", async () => {
    let failures = 1;
    const api = fakeApi(() => {
      if (failures-- > 0) throw networkError(new TypeError("Failed to fetch"));
      return { yogaClass: { classId: "c-1", title: "Yin" } };
    });
    const { wrapper, router } = await mountStaff(ClassFormView, {
      api,
      route: "/staff/classes/new",
      timeZone: "Europe/Berlin",
    });
    mounted = wrapper;
    await byTestId(wrapper, "class-title-input").setValue("Yin");
    await byTestId(wrapper, "class-start-input").setValue("2027-03-28T07:00");
    await byTestId(wrapper, "class-duration-input").setValue("75");
    await byTestId(wrapper, "class-capacity-input").setValue("8");
    await byTestId(wrapper, "class-waitlist-input").setValue("3");
    expect(wrapper.text()).toContain("Europe/Berlin");

    await byTestId(wrapper, "class-form").trigger("submit");
    await flushPromises();
    expect(byTestId(wrapper, "form-error").exists()).toBe(true);
    await byTestId(wrapper, "class-form").trigger("submit"); // the retry of the same attempt
    await flushPromises();

    const [first, second] = api.calls as [Call, Call];
    expect(first.method).toBe("POST");
    expect(first.path).toBe("/v1/classes");
    expect(first.body).toEqual({
      title: "Yin",
      instructor: "",
      startTime: "2027-03-28T05:00:00.000Z", // 07:00 CEST, the first day of summer time
      endTime: "2027-03-28T06:15:00.000Z",
      timeZone: "Europe/Berlin",
      capacity: 8,
      waitlistCapacity: 3,
    });
    expect(first.query?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.query?.requestId).toBe(first.query?.requestId);
    expect(router.currentRoute.value.name).toBe("staff-classes");
    expect(router.currentRoute.value.query.saved).toBe("c-1");
  });

  it("starts a new attempt (a new request id) when the form changes after a failure", async () => {
    const api = fakeApi(() => {
      throw networkError(new TypeError("offline"));
    });
    const { wrapper } = await mountStaff(ClassFormView, { api, route: "/staff/classes/new" });
    mounted = wrapper;
    await byTestId(wrapper, "class-title-input").setValue("Yin");
    await byTestId(wrapper, "class-start-input").setValue("2027-03-01T07:00");
    await byTestId(wrapper, "class-form").trigger("submit");
    await flushPromises();
    await byTestId(wrapper, "class-title-input").setValue("Yin Yoga");
    await byTestId(wrapper, "class-form").trigger("submit");
    await flushPromises();
    const [first, second] = api.calls as [Call, Call];
    expect(second.query?.requestId).not.toBe(first.query?.requestId);
  });

  it("edits only the changed fields, named in the update mask, in the class's own zone", async () => {
    const api = fakeApi((call) => {
      if (call.method === "GET") {
        return {
          yogaClass: {
            classId: "c-9",
            title: "Hatha",
            instructor: "Mina",
            startTime: "2027-03-01T00:00:00Z",
            endTime: "2027-03-01T01:00:00Z",
            timeZone: "Asia/Seoul",
            capacity: 10,
            waitlistCapacity: 2,
            status: "CLASS_STATUS_SCHEDULED",
          },
        };
      }
      return { yogaClass: { classId: "c-9" } };
    });
    const { wrapper } = await mountStaff(ClassFormView, {
      api,
      props: { classId: "c-9" },
      route: "/staff/classes/c-9/edit",
      timeZone: "Europe/Berlin",
    });
    mounted = wrapper;
    expect((byTestId(wrapper, "class-start-input").element as HTMLInputElement).value).toBe("2027-03-01T09:00");
    expect((byTestId(wrapper, "class-duration-input").element as HTMLInputElement).value).toBe("60");
    await byTestId(wrapper, "class-capacity-input").setValue("14");
    await byTestId(wrapper, "class-start-input").setValue("2027-03-01T09:30");
    await byTestId(wrapper, "class-form").trigger("submit");
    await flushPromises();
    const patch = api.calls.find((c) => c.method === "PATCH")!;
    expect(patch.path).toBe("/v1/classes/c-9");
    expect(patch.query).toEqual({ updateMask: "startTime,endTime,capacity" });
    expect(patch.body).toEqual({
      startTime: "2027-03-01T00:30:00.000Z",
      endTime: "2027-03-01T01:30:00.000Z",
      capacity: 14,
    });
  });
});

describe("series form", () => {
  it("builds the weekly rule from the ticked days and the end date, and says what was made", async () => {
    const api = fakeApi((call) => ({
      series: { ...(call.body as object), seriesId: "s-1" },
      classesCreated: 6,
    }));
    const { wrapper } = await mountStaff(SeriesFormView, { api, route: "/staff/series/new" });
    mounted = wrapper;
    await byTestId(wrapper, "series-title-input").setValue("Vinyasa");
    await byTestId(wrapper, "series-instructor-input").setValue("Mina");
    await byTestId(wrapper, "series-day-WE").setValue(true);
    await byTestId(wrapper, "series-day-MO").setValue(true);
    await byTestId(wrapper, "series-start-time-input").setValue("07:00");
    await byTestId(wrapper, "series-duration-input").setValue("60");
    await byTestId(wrapper, "series-start-date-input").setValue("2027-03-01");
    await byTestId(wrapper, "series-end-date-input").setValue("2027-03-31");
    await byTestId(wrapper, "series-end-date-input").trigger("input");
    await byTestId(wrapper, "series-capacity-input").setValue("12");
    await byTestId(wrapper, "series-waitlist-input").setValue("4");
    await byTestId(wrapper, "series-form").trigger("submit");
    await flushPromises();

    const post = api.calls[0]!;
    expect(post.path).toBe("/v1/series");
    expect(post.query?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(post.body).toEqual({
      title: "Vinyasa",
      instructor: "Mina",
      capacity: 12,
      waitlistCapacity: 4,
      startTime: "07:00",
      duration: "3600s",
      timeZone: "Asia/Seoul",
      startDate: "2027-03-01",
      recurrence: "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270331",
    });
    expect(byTestId(wrapper, "series-created").text()).toContain("6");
    expect(byTestId(wrapper, "series-classes-link").attributes("href")).toBe("/staff/classes?seriesId=s-1");
  });

  it("ends after a number of classes unless a last date is chosen; asks for a day first", async () => {
    const api = fakeApi(() => ({ series: { seriesId: "s-2" }, classesCreated: 3 }));
    const { wrapper } = await mountStaff(SeriesFormView, { api, route: "/staff/series/new" });
    mounted = wrapper;
    await byTestId(wrapper, "series-title-input").setValue("Yin");
    await byTestId(wrapper, "series-start-time-input").setValue("19:30");
    await byTestId(wrapper, "series-form").trigger("submit");
    await flushPromises();
    expect(api.calls).toHaveLength(0);
    expect(byTestId(wrapper, "error-recurrence").text()).toBe("Choose at least one day.");

    await byTestId(wrapper, "series-day-FR").setValue(true);
    await byTestId(wrapper, "series-count-input").setValue("3");
    await byTestId(wrapper, "series-form").trigger("submit");
    await flushPromises();
    expect((api.calls[0]!.body as { recurrence: string }).recurrence).toBe("FREQ=WEEKLY;BYDAY=FR;COUNT=3");
  });

  it("edits this and following from a date, with the changed fields only", async () => {
    const api = fakeApi((call) => {
      if (call.method === "GET") {
        return {
          series: {
            seriesId: "s-3",
            title: "Vinyasa",
            instructor: "Mina",
            capacity: 12,
            waitlistCapacity: 0,
            timeZone: "Asia/Seoul",
            startDate: "2027-03-01",
            startTime: "07:00",
            duration: "3600s",
            recurrence: "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6",
            status: "SERIES_STATUS_ACTIVE",
          },
        };
      }
      return { series: { seriesId: "s-4", title: "Vinyasa" }, classesUpdated: 4 };
    });
    const { wrapper } = await mountStaff(SeriesFormView, {
      api,
      props: { seriesId: "s-3" },
      route: "/staff/series/s-3/edit",
    });
    mounted = wrapper;
    expect(byTestId(wrapper, "series-days").exists()).toBe(false);
    await byTestId(wrapper, "series-from-date-input").setValue("2027-03-08");
    await byTestId(wrapper, "series-start-time-input").setValue("09:30");
    await byTestId(wrapper, "series-form").trigger("submit");
    await flushPromises();
    const patch = api.calls.find((c) => c.method === "PATCH")!;
    expect(patch.path).toBe("/v1/series/s-3");
    expect(patch.body).toEqual({ startTime: "09:30" });
    expect(patch.query?.updateMask).toBe("startTime");
    expect(patch.query?.fromDate).toBe("2027-03-08");
    expect(patch.query?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(byTestId(wrapper, "series-updated").text()).toContain("4");
    expect(byTestId(wrapper, "series-classes-link").attributes("href")).toBe("/staff/classes?seriesId=s-4");
  });
});

describe("settings", () => {
  const settings = {
    waitlistCutoff: "7200s",
    cancellationWindow: "43200s",
    checkInOpens: "1800s",
    noShowGrace: "900s",
    strikeLimit: 0,
    strikePeriod: "2592000s",
    blockDuration: "604800s",
    bookingLimit: 0,
    reminderLead: "86400s",
    seriesHorizon: "4838400s",
  };

  it("shows durations in the labelled unit and saves only what changed", async () => {
    const api = fakeApi((call) =>
      call.method === "GET" ? { settings } : { settings: { ...settings, ...(call.body as object) } },
    );
    const { wrapper } = await mountStaff(SettingsView, { api, route: "/staff/settings" });
    mounted = wrapper;
    const window = byTestId(wrapper, "setting-cancellationWindow");
    expect((window.element as HTMLInputElement).value).toBe("12");
    expect(wrapper.find('label[for="setting-cancellationWindow"]').text()).toContain("hours");
    expect((byTestId(wrapper, "setting-checkInOpens").element as HTMLInputElement).value).toBe("30");
    expect((byTestId(wrapper, "setting-seriesHorizon").element as HTMLInputElement).value).toBe("56");

    await window.setValue("1.5");
    await byTestId(wrapper, "setting-bookingLimit").setValue("2");
    await byTestId(wrapper, "settings-form").trigger("submit");
    await flushPromises();
    const patch = api.calls.find((c) => c.method === "PATCH")!;
    expect(patch.path).toBe("/v1/studio/settings");
    expect(patch.query).toEqual({ updateMask: "cancellationWindow,bookingLimit" });
    expect(patch.body).toEqual({ cancellationWindow: "5400s", bookingLimit: 2 });
    expect(byTestId(wrapper, "settings-saved").text()).toBe("Saved.");
    expect(byTestId(wrapper, "settings-saved").element.closest('[role="status"]')).not.toBeNull();

    await byTestId(wrapper, "setting-bookingLimit").setValue("3");
    expect(byTestId(wrapper, "settings-saved").exists()).toBe(false);
  });

  it("puts the server's violation under the setting it names", async () => {
    const api = fakeApi((call) => {
      if (call.method === "GET") return { settings };
      throw badRequest([["settings.series_horizon", "must be between 1 day and 182 days"]]);
    });
    const { wrapper } = await mountStaff(SettingsView, { api, route: "/staff/settings" });
    mounted = wrapper;
    await byTestId(wrapper, "setting-seriesHorizon").setValue("200");
    await byTestId(wrapper, "settings-form").trigger("submit");
    await flushPromises();
    expect(describedErrors(wrapper, "setting-seriesHorizon")).toEqual(["must be between 1 day and 182 days"]);
    expect(fieldOf(wrapper, "error-seriesHorizon")).toBe(fieldOf(wrapper, "setting-seriesHorizon"));
    expect(describedErrors(wrapper, "setting-cancellationWindow")).toEqual([]);
    expect(byTestId(wrapper, "settings-saved").exists()).toBe(false);
  });
});

describe("roster", () => {
  const yogaClass = {
    classId: "c-1",
    title: "Yin",
    startTime: new Date(Date.now() + 10 * 60_000).toISOString(),
    endTime: new Date(Date.now() + 70 * 60_000).toISOString(),
    timeZone: "Asia/Seoul",
    capacity: 5,
    booked: 2,
    status: "CLASS_STATUS_SCHEDULED",
  };
  const rows = [
    { reservationId: "r-1", userId: "u-1", status: "RESERVATION_STATUS_CONFIRMED" },
    { reservationId: "r-2", userId: "u-2", status: "RESERVATION_STATUS_CONFIRMED" },
    { reservationId: "r-3", userId: "u-3", status: "RESERVATION_STATUS_WAITLISTED", waitlistPosition: 1 },
  ];

  it("checks a booked member in and shows the row as attended; a refusal shows its reason", async () => {
    const api = fakeApi((call) => {
      if (call.path === "/v1/classes/c-1") return { yogaClass };
      if (call.path === "/v1/studio/settings") return { settings: { checkInOpens: "1800s" } };
      if (call.path === "/v1/classes/c-1/roster") return { reservations: rows };
      if (call.path === "/v1/reservations/r-1:checkIn") {
        return { reservation: { ...rows[0], status: "RESERVATION_STATUS_ATTENDED", checkInTime: new Date().toISOString() } };
      }
      throw failedPrecondition("CHECK_IN_NOT_OPEN", { opens_at: yogaClass.startTime });
    });
    const { wrapper } = await mountStaff(RosterView, { api, props: { classId: "c-1" }, route: "/staff/classes/c-1/roster" });
    mounted = wrapper;
    expect(byTestId(wrapper, "check-in-window").text()).toContain("open");
    const row = () => byTestId(wrapper, "roster-row-r-1");
    expect(row().find('[data-testid="roster-status"]').text()).toBe("Booked");
    expect(byTestId(wrapper, "check-in-r-3").exists()).toBe(false); // waiting: nothing to check in

    await byTestId(wrapper, "check-in-r-1").trigger("click");
    await flushPromises();
    expect(api.calls.at(-1)).toMatchObject({ method: "POST", path: "/v1/reservations/r-1:checkIn" });
    expect(row().find('[data-testid="roster-status"]').text()).toBe("Checked in");
    expect(byTestId(wrapper, "check-in-r-1").exists()).toBe(false);

    await byTestId(wrapper, "check-in-r-2").trigger("click");
    await flushPromises();
    const alert = byTestId(wrapper, "roster-row-r-2").find('[role="alert"]');
    expect(alert.exists()).toBe(true);
    expect(byTestId(wrapper, "roster-row-r-2").find('[data-testid="roster-status"]').text()).toBe("Booked");
    expect(byTestId(wrapper, "roster-row-r-2").find('[data-testid="roster-member"]').attributes("href")).toBe(
      "/staff/members/u-2",
    );
  });
});

describe("classes and members", () => {
  it("cancels a class only after it is confirmed", async () => {
    const upcoming = {
      classId: "c-5",
      title: "Flow",
      startTime: "2030-01-01T00:00:00Z",
      endTime: "2030-01-01T01:00:00Z",
      timeZone: "Asia/Seoul",
      capacity: 5,
      booked: 1,
      status: "CLASS_STATUS_SCHEDULED",
    };
    const api = fakeApi((call) =>
      call.method === "DELETE"
        ? { yogaClass: { ...upcoming, status: "CLASS_STATUS_CANCELLED" } }
        : { yogaClasses: [upcoming], nextPageToken: "" },
    );
    const { wrapper } = await mountStaff(StaffClassesView, { api });
    mounted = wrapper;
    const list = api.calls[0]!;
    expect(list.path).toBe("/v1/classes");
    expect(typeof list.query?.startTime).toBe("string");
    await byTestId(wrapper, "cancel-class").trigger("click");
    expect(api.calls.filter((c) => c.method === "DELETE")).toHaveLength(0);
    await byTestId(wrapper, "confirm-cancel-class").trigger("click");
    await flushPromises();
    expect(api.calls.at(-1)).toMatchObject({ method: "DELETE", path: "/v1/classes/c-5" });
    expect(byTestId(wrapper, "staff-class-c-5").find('[data-testid="class-status"]').text()).toBe("Cancelled");
    expect(byTestId(wrapper, "cancel-class").exists()).toBe(false);
  });

  it("shows a member's standing and lifts the block after confirming", async () => {
    const blockedUntil = new Date(Date.now() + 86_400_000).toISOString();
    const api = fakeApi((call) =>
      call.method === "GET"
        ? { standing: { userId: "u-7", strikes: 3, blockedUntil, heldBookings: 1, bookingLimit: 2 } }
        : { standing: { userId: "u-7", strikes: 0, liftedTime: new Date().toISOString(), heldBookings: 1, bookingLimit: 2 } },
    );
    const { wrapper } = await mountStaff(MemberStandingView, {
      api,
      props: { userId: "u-7" },
      route: "/staff/members/u-7",
    });
    mounted = wrapper;
    expect(api.calls[0]!.path).toBe("/v1/members/u-7/standing");
    expect(byTestId(wrapper, "standing-strikes").text()).toBe("3");
    expect(byTestId(wrapper, "standing-blocked-until").text()).not.toBe("Not blocked");
    await byTestId(wrapper, "lift-block").trigger("click");
    await byTestId(wrapper, "confirm-lift-block").trigger("click");
    await flushPromises();
    expect(api.calls.at(-1)).toMatchObject({ method: "POST", path: "/v1/members/u-7/standing:liftBlock" });
    expect(byTestId(wrapper, "standing-strikes").text()).toBe("0");
    expect(byTestId(wrapper, "standing-blocked-until").text()).toBe("Not blocked");
    expect(byTestId(wrapper, "block-lifted").exists()).toBe(true);
  });
});
