"""Members in a real browser (issue 16): sign up at the provider from the app, book the last
seat, wait on the waitlist and see the promotion arrive without a reload; a double click on a
slow network books once; the same booking with the keyboard alone, on a phone, in Korean and
in English. Each outcome is read on the page and checked again through the JSON API."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, Request, Response, expect

from tests.e2e.conftest import E2E, Ui
from tests.e2e.support import (
    BOOK_KEY,
    PHONE,
    SETTLE_MS,
    WAITLIST_KEY,
    Person,
    class_json,
    days_ahead,
    expect_status,
    figure,
    moved_on,
    no_horizontal_scroll,
    notification_kinds,
    open_class,
    pattern,
    poll,
    reservations_of,
    subject_of,
    tab_to,
    token_of,
    weeks_ahead,
    word,
)
from tests.integration.gateway_support import JsonClient

# Within this many seconds of the cancel's answer, the member next in the queue must see the
# seat as theirs (the figure). The class page reads the class and the member's
# reservation again every 2 s while it is visible, and the promotion reaches reservation_svc
# through Kafka in about a tenth of a second: the delay is at most about 2.2 s (eight runs in a
# row measured 0.02 to 2.15 s; it is either a poll that came just after or one 2 s later). So
# the test holds the 3 s, with the rest as the margin for a busy moment of a 2-core
# machine, but waits up to 10 s before it fails, so that a miss fails with its figure rather
# than with a timeout. The answer's moment is taken when the test hears of it, a little after
# the page did: the figure errs on the long side.
REFRESH_BUDGET_S = 3.0
REFRESH_WAIT_MS = 10_000


def is_cancel(response: Response) -> bool:
    return response.request.method == "POST" and response.url.endswith(":cancel")


def is_booking(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/v1/reservations")


def cancel(page: Page) -> Response:
    """Cancels the member's reservation on the class page, confirming when the app asks;
    the cancel's answer."""
    with page.expect_response(is_cancel, timeout=SETTLE_MS) as answer:
        page.get_by_test_id("cancel-button").click()
        page.get_by_test_id("confirm-cancel").click()
    return answer.value


def watch_status(page: Page, status: str) -> None:
    """Records (window.__statusSeenAt, epoch ms) the moment `my-status` first shows `status`,
    from a MutationObserver, so the figure does not depend on how often the test looks."""
    page.evaluate(
        """(wanted) => {
            window.__statusSeenAt = null;
            const look = () => {
                const el = document.querySelector('[data-testid="my-status"]');
                if (window.__statusSeenAt === null && el && el.dataset.status === wanted) {
                    window.__statusSeenAt = Date.now();
                }
            };
            new MutationObserver(look).observe(document.body, {
                subtree: true, childList: true, characterData: true, attributes: true,
            });
            look();
        }""",
        status,
    )


def arrived(api: JsonClient, kinds: set[str]) -> dict[str, str]:
    """The member's notifications (kind by id) once those of `kinds` are all there."""

    def look() -> dict[str, str]:
        found = notification_kinds(api)
        return found if kinds <= set(found.values()) else {}

    return dict(poll(look, what=f"notifications {sorted(kinds)}"))


def test_members_sign_up_book_the_last_seat_wait_and_see_the_promotion_live(
    app: E2E, ui: Ui
) -> None:
    # Three days ahead: outside the cancellation window (12 h) and before the waitlist closes.
    start = days_ahead(3, 19)
    class_id = app.create_class(class_json("Evening Hatha", start, capacity=1, waitlist=2))
    first, second = Person.new("Hana"), Person.new("Duri")
    page1 = ui.sign_up(first)
    page2 = ui.sign_up(second)

    # The first takes the only seat.
    open_class(page1, class_id, start)
    expect(page1.get_by_test_id("seats-left")).to_have_attribute("data-count", "1")
    expect(page1.get_by_test_id("book-button")).to_have_text(pattern("ko", BOOK_KEY))
    page1.get_by_test_id("book-button").click()
    expect_status(page1.get_by_test_id("my-status"), "ko", "CONFIRMED")
    expect(page1.get_by_test_id("seats-left")).to_have_attribute("data-count", "0")

    # The second finds it full and joins the queue.
    open_class(page2, class_id, start)
    expect(page2.get_by_test_id("seats-left")).to_have_attribute("data-count", "0")
    expect(page2.get_by_test_id("book-button")).to_have_attribute("data-mode", "waitlist")
    expect(page2.get_by_test_id("book-button")).to_have_text(pattern("ko", WAITLIST_KEY))
    page2.get_by_test_id("book-button").click()
    expect_status(page2.get_by_test_id("my-status"), "ko", "WAITLISTED")
    expect(page2.get_by_test_id("waitlist-position")).to_have_attribute("data-position", "1")
    expect(page1.get_by_test_id("waitlist-length")).to_have_attribute("data-count", "1")

    # The first cancels; the second's page, left alone, turns to "confirmed".
    watch_status(page2, "CONFIRMED")
    answered = cancel(page1)
    assert answered.ok, answered.text()
    answered_at = time.time() * 1000
    # Waits longer than the budget, so a slow moment of a busy machine shows as a figure
    # above 3 s in the failure, not as a timeout without one.
    expect_status(page2.get_by_test_id("my-status"), "ko", "CONFIRMED", REFRESH_WAIT_MS)
    # The observer is still there, so the document is the same: nothing reloaded the page.
    seen_at = page2.evaluate("window.__statusSeenAt")
    assert isinstance(seen_at, (int, float)), "the page was reloaded"
    delay = (seen_at - answered_at) / 1000
    figure("promotion seen after the cancel's answer (s)", round(delay, 2))
    assert delay <= REFRESH_BUDGET_S, f"the promotion showed {delay:.2f} s after the cancel"

    # The API agrees: one cancelled, one promoted.
    first_id, second_id = subject_of(page1), subject_of(page2)
    (mine,) = reservations_of(app.admin(), first_id, class_id)
    (theirs,) = reservations_of(app.admin(), second_id, class_id)
    assert mine["status"] == "RESERVATION_STATUS_CANCELLED", mine
    assert theirs["status"] == "RESERVATION_STATUS_CONFIRMED" and theirs["promoted"], theirs

    # Each reads what happened on their notifications page.
    for page, kinds in (
        (page1, {"NOTIFICATION_KIND_BOOKED", "NOTIFICATION_KIND_CANCELLED"}),
        (page2, {"NOTIFICATION_KIND_WAITLISTED", "NOTIFICATION_KIND_PROMOTED"}),
    ):
        found = arrived(app.api(token_of(page)), kinds)
        page.get_by_test_id("nav-notifications").click()
        expect(page.get_by_test_id("notifications")).to_be_visible()
        for notification_id in found:
            row = page.get_by_test_id(f"notification-{notification_id}")
            expect(row).to_be_visible()
            expect(row.get_by_test_id("notification-subject")).not_to_be_empty()


def test_a_double_click_on_a_slow_network_books_once(app: E2E, ui: Ui) -> None:
    start = days_ahead(4, 8)
    class_id = app.create_class(class_json("Slow Flow", start, capacity=5))
    member = app.member("double-click")
    page = ui.page(member)
    open_class(page, class_id, start)
    sent: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        if is_booking(request):
            sent.append(dict(request.post_data_json or {}))

    page.on("request", record)

    # Every request now waits 1.5 s before it leaves (Chromium's own throttling).
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    button = page.get_by_test_id("book-button")
    with page.expect_request(is_booking):
        button.dblclick()
    # And once more while the first is still on its way: whatever the button shows now.
    button.click(force=True)
    expect_status(page.get_by_test_id("my-status"), "ko", "CONFIRMED", SETTLE_MS * 2)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    expect(page.get_by_test_id("action-error")).to_have_count(0)

    held = reservations_of(app.admin(), subject_of(page), class_id)
    assert len(held) == 1, held
    assert held[0]["status"] == "RESERVATION_STATUS_CONFIRMED", held
    # However many requests the clicks made, they were one attempt: one request id.
    assert sent, "no booking request was sent"
    assert len({body["requestId"] for body in sent}) == 1, sent
    figure("booking requests sent by a double click and a third click", len(sent))
    seats = app.admin().ok("GET", f"/v1/classes/{class_id}")["yogaClass"]
    assert seats["booked"] == 1, seats


@pytest.mark.parametrize("locale", ["ko", "en"])
def test_a_member_books_with_the_keyboard_alone_on_a_phone(app: E2E, ui: Ui, locale: str) -> None:
    start = days_ahead(8, 7, 30)
    class_id = app.create_class(class_json(f"Sunrise Yoga {locale}", start, capacity=8))
    member = app.member(f"keyboard-{locale}")
    # A browser in another zone than the studio's: times still read in the studio's.
    page = ui.page(member, viewport=PHONE, time_zone="America/Los_Angeles")
    if locale != "ko":
        # Korean first; the choice is made once, and remembered.
        expect(page.get_by_test_id("nav-timetable")).to_have_text(word("ko", "nav.timetable"))
        page.get_by_test_id("language").select_option(locale)
        expect(page.get_by_test_id("nav-timetable")).to_have_text(word(locale, "nav.timetable"))
        page.reload()
    expect(page.get_by_test_id("nav-timetable")).to_have_text(word(locale, "nav.timetable"))
    expect(page.locator("html")).to_have_attribute("lang", locale)
    expect(page.get_by_test_id("timetable")).to_be_visible()
    no_horizontal_scroll(page)

    # To the class's week, its card, its page and its booking: Tab, Enter and Space only.
    for _ in range(weeks_ahead(start)):
        tab_to(page, "week-next")
        moved_on(page, lambda: page.keyboard.press("Enter"))
    card = page.get_by_test_id(f"class-card-{class_id}")
    expect(card.get_by_test_id("class-time")).to_contain_text(f"{start:%H:%M}")
    no_horizontal_scroll(page)
    tab_to(page, f"class-card-{class_id}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/classes/{class_id}")
    expect(page.get_by_test_id("class-time")).to_contain_text(f"{start:%H:%M}")
    expect(page.get_by_test_id("book-button")).to_have_text(pattern(locale, BOOK_KEY))
    no_horizontal_scroll(page)
    tab_to(page, "book-button")
    page.keyboard.press("Space" if locale == "en" else "Enter")
    expect_status(page.get_by_test_id("my-status"), locale, "CONFIRMED")
    no_horizontal_scroll(page)

    (held,) = reservations_of(app.admin(), subject_of(page), class_id)
    assert held["status"] == "RESERVATION_STATUS_CONFIRMED", held

    # The booking on my page and the notification, in the same language, on the phone.
    page.get_by_test_id("nav-mypage").click()
    entry = page.get_by_test_id(f"mypage-entry-{held['reservationId']}")
    expect_status(entry.get_by_test_id("entry-status"), locale, "CONFIRMED")
    no_horizontal_scroll(page)
    page.get_by_test_id("nav-notifications").click()
    booked = page.locator('[data-kind="NOTIFICATION_KIND_BOOKED"]')
    expect(booked).to_have_count(1, timeout=SETTLE_MS)
    expect(booked).to_contain_text(
        word(locale, "member.notifications.kind.NOTIFICATION_KIND_BOOKED")
    )
    no_horizontal_scroll(page)
