"""Staff in a real browser (issue 16): a weekly series made through the form; a member books
one of its classes from the timetable; staff check the member in from the roster. Each step
is read on the page and checked again through the JSON API."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.e2e.conftest import E2E, Ui
from tests.e2e.support import (
    SETTLE_MS,
    open_class,
    poll,
    reservations_of,
    status_word,
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
    form = staff.get_by_test_id("series-form")
    expect(form).to_be_visible()
    staff.get_by_test_id("series-title-input").fill(title)
    staff.get_by_test_id("series-instructor-input").fill("Mina")
    staff.get_by_test_id(f"series-day-{day}").check()
    staff.get_by_test_id("series-start-time-input").fill(f"{first:%H:%M}")
    staff.get_by_test_id("series-duration-input").fill("60")
    staff.get_by_test_id("series-start-date-input").fill(f"{first:%Y-%m-%d}")
    # Two weeks: two classes.
    staff.get_by_test_id("series-end-date-input").fill(f"{first + timedelta(days=13):%Y-%m-%d}")
    staff.get_by_test_id("series-capacity-input").fill("12")
    staff.get_by_test_id("save-series").click()
    expect(staff.get_by_test_id("form-error")).to_have_count(0)

    # The series and its two classes exist.
    admin = app.admin()
    series = poll(
        lambda: [
            s
            for s in admin.ok("GET", "/v1/series?pageSize=100").get("series", [])
            if s["title"] == title
        ],
        what="the series made through the form",
    )
    assert len(series) == 1, series
    series_id = series[0]["seriesId"]
    expect(staff.get_by_test_id(f"series-row-{series_id}")).to_be_visible()
    classes = admin.ok("GET", f"/v1/classes?seriesId={series_id}&pageSize=10")["yogaClasses"]
    assert len(classes) == 2, classes
    assert series[0]["timeZone"] == "Asia/Seoul", series
    occurrence = min(classes, key=lambda c: c["startTime"])
    assert occurrence["occurrenceDate"] == f"{first:%Y-%m-%d}", occurrence
    class_id = occurrence["classId"]

    # A member books it from the timetable.
    member = ui.page(app.member("series-booker"))
    open_class(member, class_id)
    member.get_by_test_id("book-button").click()
    confirmed = status_word("ko", "CONFIRMED")
    expect(member.get_by_test_id("my-status")).to_have_text(confirmed, timeout=SETTLE_MS)
    (booked,) = reservations_of(admin, subject_of(member), class_id)
    reservation_id = booked["reservationId"]

    # Staff find the class, open its roster and check the member in.
    staff.get_by_test_id("nav-staff-classes").click()
    row = staff.get_by_test_id(f"staff-class-{class_id}")
    row.get_by_test_id("roster-link").click()
    expect(staff.get_by_test_id("roster")).to_be_visible()
    entry = staff.get_by_test_id(f"roster-row-{reservation_id}")
    expect(entry.get_by_test_id("roster-status")).to_have_text(confirmed)
    staff.get_by_test_id(f"check-in-{reservation_id}").click()
    attended = status_word("ko", "ATTENDED")
    expect(entry.get_by_test_id("roster-status")).to_have_text(attended, timeout=SETTLE_MS)

    checked = admin.ok("GET", f"/v1/reservations/{reservation_id}")["reservation"]
    assert checked["status"] == "RESERVATION_STATUS_ATTENDED", checked
    # The member's own page says so too.
    member.get_by_test_id("nav-mypage").click()
    mine = member.get_by_test_id(f"mypage-entry-{reservation_id}")
    expect(mine.get_by_test_id("entry-status")).to_have_text(attended, timeout=SETTLE_MS)
