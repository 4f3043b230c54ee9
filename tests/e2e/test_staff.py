"""Staff in a real browser (issue 16): a weekly series made through the form; a member books
one of its classes from the timetable; staff check the member in from the roster. Each step
is read on the page and checked again through the JSON API."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.e2e.conftest import E2E, Ui
from tests.e2e.support import (
    expect_status,
    open_class,
    parse_time,
    pattern,
    reservations_of,
    studio_now,
    subject_of,
)

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def test_staff_make_a_weekly_series_a_member_books_it_and_staff_check_the_member_in(
    app: E2E, ui: Ui
) -> None:
    # The first class starts in 20 to 25 minutes: check-in opens 30 minutes before a class
    # (the studio's default), so staff may check the member in at once.
    now = studio_now()
    first = (now + timedelta(minutes=20)).replace(second=0, microsecond=0)
    first += timedelta(minutes=-first.minute % 5)
    day = DAYS[first.weekday()]
    title = f"Lunch Vinyasa {now:%H%M%S}"

    staff = ui.page(app.staff)
    staff.get_by_test_id("nav-staff-series").click()
    expect(staff.get_by_test_id("staff-series")).to_be_visible()
    staff.get_by_test_id("new-series").click()
    expect(staff.get_by_test_id("series-form")).to_be_visible()
    staff.get_by_test_id("series-title-input").fill(title)
    staff.get_by_test_id("series-instructor-input").fill("Mina")
    staff.get_by_test_id(f"series-day-{day}").check()
    staff.get_by_test_id("series-start-time-input").fill(f"{first:%H:%M}")
    staff.get_by_test_id("series-duration-input").fill("60")
    staff.get_by_test_id("series-start-date-input").fill(f"{first:%Y-%m-%d}")
    # Two weeks: two classes.
    staff.get_by_test_id("series-ends-count").check()
    staff.get_by_test_id("series-count-input").fill("2")
    staff.get_by_test_id("series-capacity-input").fill("12")
    staff.get_by_test_id("save-series").click()
    expect(staff.get_by_test_id("series-created")).to_be_visible()
    expect(staff.get_by_test_id("form-error")).to_have_count(0)

    # The series and its two classes exist, in the studio's zone, the first on its day.
    admin = app.admin()
    (series,) = [
        s
        for s in admin.ok("GET", "/v1/series?pageSize=100").get("series", [])
        if s["title"] == title
    ]
    assert series["timeZone"] == "Asia/Seoul", series
    assert series["startTime"] == f"{first:%H:%M}", series
    path = f"/v1/classes?seriesId={series['seriesId']}&pageSize=10"
    classes = sorted(admin.ok("GET", path)["yogaClasses"], key=lambda c: c["startTime"])
    assert [c["occurrenceDate"] for c in classes] == [
        f"{first:%Y-%m-%d}",
        f"{first + timedelta(days=7):%Y-%m-%d}",
    ], classes
    assert parse_time(classes[0]["startTime"]) == first, classes[0]
    class_id = classes[0]["classId"]

    # Its classes, listed for staff.
    staff.get_by_test_id("series-classes-link").click()
    for c in classes:
        expect(staff.get_by_test_id(f"staff-class-{c['classId']}")).to_be_visible()

    # A member books the first from the timetable.
    member = ui.page(app.member("series-booker"))
    open_class(member, class_id, first)
    member.get_by_test_id("book-button").click()
    expect_status(member.get_by_test_id("my-status"), "ko", "CONFIRMED")
    (booked,) = reservations_of(admin, subject_of(member), class_id)
    reservation_id = booked["reservationId"]

    # Staff open the class's roster and check the member in.
    staff.get_by_test_id(f"staff-class-{class_id}").get_by_test_id("roster-link").click()
    expect(staff.get_by_test_id("roster")).to_be_visible()
    entry = staff.get_by_test_id(f"roster-row-{reservation_id}")
    status = entry.get_by_test_id("roster-status")
    expect(status).to_have_text(pattern("ko", "staff.reservationStatus.CONFIRMED"))
    staff.get_by_test_id(f"check-in-{reservation_id}").click()
    expect(status).to_have_text(pattern("ko", "staff.reservationStatus.ATTENDED"))
    expect(staff.get_by_test_id(f"check-in-{reservation_id}")).to_have_count(0)

    checked = admin.ok("GET", f"/v1/reservations/{reservation_id}")["reservation"]
    assert checked["status"] == "RESERVATION_STATUS_ATTENDED", checked
    # The member's own page says so too (its read model hears it as an event).
    member.get_by_test_id("nav-mypage").click()
    mine = member.get_by_test_id(f"mypage-entry-{reservation_id}")
    expect_status(mine.get_by_test_id("entry-status"), "ko", "ATTENDED")
