import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Reservation, YogaClass } from "../src/api/types";
import ClassDetail from "../src/components/member/ClassDetail.vue";
import WeekTimetable from "../src/components/member/WeekTimetable.vue";
import MyPageView from "../src/views/member/MyPageView.vue";
import NotificationsView from "../src/views/member/NotificationsView.vue";
import { appGlobal, FakeApi, MEMBER_ID, testRouter, useLocale } from "./support";

// jsdom's document is not "visible"; the app polls only visible tabs.
beforeEach(() => {
  Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2030-03-04T03:00:00Z")); // Monday 12:00 in Seoul
  sessionStorage.clear();
});
afterEach(() => {
  vi.useRealTimers();
});

function yogaClass(id: string, extra: Partial<YogaClass> = {}): YogaClass {
  return {
    classId: id,
    title: `Vinyasa ${id}`,
    instructor: "Jiwoo",
    startTime: "2030-03-04T22:00:00Z", // Tuesday 07:00 in Seoul
    endTime: "2030-03-04T23:00:00Z",
    timeZone: "Asia/Seoul",
    capacity: 10,
    booked: 3,
    waitlistCapacity: 5,
    status: "CLASS_STATUS_SCHEDULED",
    ...extra,
  };
}

describe("the week", () => {
  it("shows this week's classes by day, with seats, waitlist and the member's status", async () => {
    useLocale("en");
    const api = new FakeApi()
      .on("GET", "/v1/classes", { yogaClasses: [yogaClass("a"), yogaClass("b", { booked: 10, waiting: 2 })] })
      .on("GET", "/v1/reservations", {
        reservations: [{ reservationId: "r", classId: "b", status: "RESERVATION_STATUS_WAITLISTED" }],
      });
    const router = testRouter();
    await router.push("/");
    const wrapper = mount(WeekTimetable, { global: appGlobal(api, router) });
    await flushPromises();

    const classes = api.callsTo("GET", "/v1/classes")[0]!;
    expect(classes.query).toMatchObject({
      startTime: "2030-03-03T15:00:00.000Z", // Monday 4 March 00:00 in Seoul
      endTime: "2030-03-10T15:00:00.000Z",
      pageSize: 100,
    });
    expect(api.callsTo("GET", "/v1/reservations")[0]!.query).toMatchObject({ userId: MEMBER_ID });

    const tuesday = wrapper.get('[data-testid="day-2030-03-05"]');
    expect(tuesday.get("h2").text()).toContain("Tue, Mar 5");
    const a = tuesday.get('[data-testid="class-card-a"]');
    expect(a.get('[data-testid="class-time"]').text()).toBe("07:00–08:00 GMT+9");
    expect(a.get('[data-testid="seats-left"]').text()).toBe("7 seats left");
    expect(a.get('[data-testid="waitlist-length"]').text()).toBe("0 waiting of 5");
    expect(a.find('[data-testid="my-status"]').exists()).toBe(false);
    expect(a.get("a").attributes("href")).toBe("/classes/a");
    const b = tuesday.get('[data-testid="class-card-b"]');
    expect(b.get('[data-testid="seats-left"]').text()).toBe("0 seats left");
    expect(b.get('[data-testid="waitlist-length"]').text()).toBe("2 waiting of 5");
    expect(b.get('[data-testid="my-status"]').text()).toBe("Waitlisted");
    expect(wrapper.get('[data-testid="day-2030-03-04"]').text()).toContain("No classes");

    await wrapper.get('[data-testid="week-next"]').trigger("click");
    await flushPromises();
    expect(router.currentRoute.value.query.week).toBe("2030-03-11");
    const next = api.callsTo("GET", "/v1/classes").at(-1)!;
    expect(next.query).toMatchObject({ startTime: "2030-03-10T15:00:00.000Z", endTime: "2030-03-17T15:00:00.000Z" });
    wrapper.unmount();
  });
});

describe("a class's page", () => {
  function classApi(c: YogaClass, mine: () => Reservation[]) {
    return new FakeApi()
      .on("GET", `/v1/classes/${c.classId}`, () => ({ yogaClass: c }))
      .on("GET", "/v1/reservations", () => ({ reservations: mine() }))
      .on("GET", "/v1/studio/settings", { settings: { cancellationWindow: "43200s" } });
  }

  it("warns before a late cancel, then cancels", async () => {
    useLocale("en");
    // Tuesday 07:00 Seoul is 19 h away: inside a 24 h window of the class's own.
    const c = yogaClass("a", { cancellationWindow: "86400s" });
    let mine: Reservation[] = [{ reservationId: "r1", classId: "a", status: "RESERVATION_STATUS_CONFIRMED" }];
    const api = classApi(c, () => mine).on("POST", "/v1/reservations/r1:cancel", () => {
      mine = [{ reservationId: "r1", classId: "a", status: "RESERVATION_STATUS_CANCELLED" }];
      return { reservation: { ...mine[0], reason: "RESERVATION_REASON_LATE_CANCELLED" } };
    });
    const wrapper = mount(ClassDetail, { props: { classId: "a" }, global: appGlobal(api) });
    await flushPromises();
    expect(wrapper.get('[data-testid="my-status"]').text()).toBe("Confirmed");
    expect(wrapper.find('[data-testid="late-cancel-warning"]').exists()).toBe(false);
    await wrapper.get('[data-testid="cancel-button"]').trigger("click");
    expect(wrapper.get('[data-testid="late-cancel-warning"]').text()).toContain("less than 24 hours");
    expect(api.callsTo("POST", "/v1/reservations/r1:cancel")).toHaveLength(0);
    await wrapper.get('[data-testid="confirm-cancel"]').trigger("click");
    await flushPromises();
    expect(api.callsTo("POST", "/v1/reservations/r1:cancel")).toHaveLength(1);
    expect(wrapper.find('[data-testid="my-status"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="cancel-done"]').text()).toContain("late cancel");
    expect(wrapper.get('[data-testid="book-button"]').text()).toBe("Book");
    wrapper.unmount();
  });

  it("gives no warning outside the window", async () => {
    useLocale("en");
    const c = yogaClass("a", { startTime: "2030-03-08T22:00:00Z", endTime: "2030-03-08T23:00:00Z" });
    const api = classApi(c, () => [{ reservationId: "r1", classId: "a", status: "RESERVATION_STATUS_CONFIRMED" }]);
    const wrapper = mount(ClassDetail, { props: { classId: "a" }, global: appGlobal(api) });
    await flushPromises();
    await wrapper.get('[data-testid="cancel-button"]').trigger("click");
    expect(wrapper.find('[data-testid="confirm-cancel"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="late-cancel-warning"]').exists()).toBe(false);
    wrapper.unmount();
  });

  it("joins the waitlist of a full class and shows the promotion without a reload", async () => {
    useLocale("ko");
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    vi.setSystemTime(new Date("2030-03-04T03:00:00Z"));
    const c = yogaClass("a", { capacity: 1, booked: 1, waitlistCapacity: 2 });
    let mine: Reservation[] = [];
    const api = classApi(c, () => mine).on("POST", "/v1/reservations", (call: { body?: unknown }) => {
      const { requestId } = call.body as { requestId: string };
      mine = [{ reservationId: "r2", classId: "a", requestId, status: "RESERVATION_STATUS_WAITLISTED", waitlistPosition: 1 }];
      return { reservation: mine[0] };
    });
    const wrapper = mount(ClassDetail, { props: { classId: "a" }, global: appGlobal(api) });
    await flushPromises();
    const button = wrapper.get('[data-testid="book-button"]');
    expect(button.text()).toBe("대기 신청");
    await button.trigger("click");
    await flushPromises();
    expect(wrapper.get('[data-testid="my-status"]').text()).toBe("대기 중");
    expect(wrapper.get('[data-testid="waitlist-position"]').text()).toContain("1");
    expect(wrapper.get('[data-testid="cancel-button"]').text()).toBe("대기 취소");
    // The first member cancels; the service promotes this one. The next read shows it.
    mine = [{ ...mine[0], status: "RESERVATION_STATUS_CONFIRMED", promoted: true, waitlistPosition: 0 }];
    await vi.advanceTimersByTimeAsync(2000);
    await flushPromises();
    expect(wrapper.get('[data-testid="my-status"]').text()).toBe("예약 확정");
    expect(wrapper.find('[data-testid="waitlist-position"]').exists()).toBe(false);
    wrapper.unmount();
  });
});

describe("my page and notifications", () => {
  it("lists upcoming and past reservations with statuses and waitlist places", async () => {
    useLocale("en");
    const api = new FakeApi().on("GET", "/v1/users/me/mypage", {
      entries: [
        {
          reservationId: "r1",
          classId: "a",
          classTitle: "Yin",
          classStartTime: "2030-03-05T22:00:00Z",
          classTimeZone: "Asia/Seoul",
          status: "RESERVATION_STATUS_WAITLISTED",
          waitlistPosition: 2,
        },
        {
          reservationId: "r0",
          classId: "b",
          classTitle: "Hatha",
          classStartTime: "2030-03-01T22:00:00Z",
          classTimeZone: "Asia/Seoul",
          status: "RESERVATION_STATUS_CANCELLED",
          reason: "RESERVATION_REASON_LATE_CANCELLED",
        },
      ],
    });
    const wrapper = mount(MyPageView, { global: appGlobal(api) });
    await flushPromises();
    const upcoming = wrapper.get('[data-testid="mypage-upcoming"]');
    const r1 = upcoming.get('[data-testid="mypage-entry-r1"]');
    expect(r1.get('[data-testid="entry-status"]').text()).toBe("Waitlisted");
    expect(r1.get('[data-testid="entry-position"]').text()).toBe("Number 2 on the waitlist");
    expect(r1.get("a").attributes("href")).toBe("/classes/a");
    expect(r1.text()).toContain("Wed, Mar 6, 2030 · 07:00 GMT+9");
    const r0 = wrapper.get('[data-testid="mypage-past"]').get('[data-testid="mypage-entry-r0"]');
    expect(r0.get('[data-testid="entry-status"]').attributes("data-status")).toBe("CANCELLED");
    expect(r0.text()).toContain("late cancel");
    wrapper.unmount();
  });

  it("shows notifications a page at a time", async () => {
    useLocale("en");
    const note = (id: string) => ({
      notificationId: id,
      kind: "NOTIFICATION_KIND_PROMOTED",
      subject: `You are in (${id})`,
      createTime: "2030-03-04T01:00:00Z",
    });
    const api = new FakeApi().on("GET", "/v1/users/me/notifications", (call: { query?: { pageToken?: string } }) =>
      call.query?.pageToken ? { notifications: [note("n2")] } : { notifications: [note("n1")], nextPageToken: "t" },
    );
    const wrapper = mount(NotificationsView, { global: appGlobal(api) });
    await flushPromises();
    const n1 = wrapper.get('[data-testid="notification-n1"]');
    expect(n1.get('[data-testid="notification-subject"]').text()).toBe("You are in (n1)");
    expect(n1.text()).toContain("You got a seat");
    await wrapper.get('[data-testid="notifications-more"]').trigger("click");
    await flushPromises();
    expect(wrapper.find('[data-testid="notification-n2"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="notifications-more"]').exists()).toBe(false);
    wrapper.unmount();
  });
});
