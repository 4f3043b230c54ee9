"""What the browser tests share: the system Chromium and how to start it, the people who use
the app (with their sign-in at the provider's own pages), the app's words in each language
(read from its locale files, so the tests follow the app's texts), and small waits on what the
page shows. Nothing here sleeps for a fixed time: every wait is on a condition."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.integration.gateway_support import JsonClient, rfc3339

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
LOCALES = ("ko", "en")
STUDIO_ZONE = ZoneInfo("Asia/Seoul")
# The app remembers the language here (web/src/i18n.ts).
LOCALE_KEY = "yoga.locale"

# How long the UI may take for what crosses the services: a booking is PENDING until the seat
# saga settles, a promotion and a notification travel as events through Kafka.
SETTLE_MS = 20_000
# Navigation and rendering.
UI_MS = 10_000

# What the tests measured, printed at the end of the run (conftest's terminal summary) and
# written to var/e2e/figures.json.
FIGURES: dict[str, Any] = {}


def figure(name: str, value: Any) -> None:
    FIGURES[name] = value
    print(f"e2e figure: {name} = {value}")


# --- the app's words -------------------------------------------------------------------------


@cache
def messages(locale: str) -> dict[str, Any]:
    """Every message of the app in `locale`, merged as web/src/i18n.ts merges them."""
    merged: dict[str, Any] = {}
    for path in sorted((WEB / "src" / "locales" / locale).glob("*.json")):
        merged.update(json.loads(path.read_text()))
    return merged


def word(locale: str, key: str) -> str:
    """The text of message `key` ("member.status.CONFIRMED") in `locale`, without its
    placeholders' braces (a message with a placeholder is matched by its fixed parts)."""
    node: Any = messages(locale)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise AssertionError(f"the app has no message {key!r} in {locale}")
        node = node[part]
    if not isinstance(node, str):
        raise AssertionError(f"message {key!r} in {locale} is not a text: {node!r}")
    return node


def pattern(locale: str, key: str) -> re.Pattern[str]:
    """A message as a pattern: its `{placeholders}` match anything; a plural's forms
    ("a | b") any one of them."""
    forms = [f.strip() for f in word(locale, key).split(" | ")]
    parts = []
    for form in forms:
        pieces = re.split(r"\{[^}]*\}", form)
        parts.append(".*".join(re.escape(p) for p in pieces))
    return re.compile("|".join(f"(?:{p})" for p in parts))


# --- people ----------------------------------------------------------------------------------


@dataclass
class Person:
    """Someone with an account at the provider: its sign-in, and once signed in through the
    app, the browser state that keeps them signed in (the session the app keeps in
    localStorage, the provider's cookies)."""

    email: str
    password: str
    first_name: str = "Test"
    last_name: str = "Member"
    state: dict[str, Any] | None = None

    @classmethod
    def new(cls, first_name: str, last_name: str = "Member") -> Person:
        tag = uuid.uuid4().hex[:8]
        return cls(
            f"{first_name.lower()}-{tag}@example.com", uuid.uuid4().hex, first_name, last_name
        )


def session_of(page: Page) -> dict[str, Any]:
    """The app's stored session (oidc-client-ts keeps the user under `oidc.user:*`)."""
    found = page.evaluate(
        """() => {
            for (const key of Object.keys(localStorage)) {
                if (key.startsWith("oidc.user:")) return JSON.parse(localStorage.getItem(key));
            }
            return null;
        }"""
    )
    assert found, "the app holds no session"
    return dict(found)


def token_of(page: Page) -> str:
    """The access token the app is using now (the person's own)."""
    return str(session_of(page)["access_token"])


def subject_of(page: Page) -> str:
    return str(session_of(page)["profile"]["sub"])


def with_locale(state: dict[str, Any] | None, origin: str, locale: str) -> dict[str, Any]:
    """A browser state like `state` in which the app remembers `locale` as chosen."""
    copied: dict[str, Any] = json.loads(json.dumps(state or {"cookies": [], "origins": []}))
    origins = copied.setdefault("origins", [])
    mine = next((o for o in origins if o["origin"] == origin), None)
    if mine is None:
        mine = {"origin": origin, "localStorage": []}
        origins.append(mine)
    mine["localStorage"] = [e for e in mine["localStorage"] if e["name"] != LOCALE_KEY]
    mine["localStorage"].append({"name": LOCALE_KEY, "value": locale})
    return copied


# --- the provider's pages --------------------------------------------------------------------


def at_provider(url: str, issuer: str) -> bool:
    """Whether `url` is one of the provider's pages."""
    return url.startswith(issuer.split("/realms/")[0])


def sign_in_at_provider(page: Page, person: Person) -> None:
    """Fills the provider's sign-in form (the page is on it)."""
    page.locator("#username").fill(person.email)
    page.locator("#password").fill(person.password)
    page.locator("#kc-login").click()


def register_at_provider(page: Page, person: Person) -> None:
    """Fills the provider's registration form (the page is on it)."""
    expect(page.locator("#kc-register-form")).to_be_visible(timeout=UI_MS)
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(person.password)
    page.locator("#password-confirm").fill(person.password)
    page.locator("#firstName").fill(person.first_name)
    page.locator("#lastName").fill(person.last_name)
    page.locator("#kc-register-form [type=submit]").click()


def signed_in(page: Page) -> Locator:
    return page.get_by_test_id("signed-in-as")


# --- time ------------------------------------------------------------------------------------


def studio_now() -> datetime:
    return datetime.now(STUDIO_ZONE)


def at_studio(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=STUDIO_ZONE)


def class_json(
    title: str,
    start: datetime,
    *,
    minutes: int = 60,
    capacity: int = 10,
    waitlist: int = 0,
    instructor: str = "Jiwoo",
) -> dict[str, Any]:
    return {
        "title": title,
        "instructor": instructor,
        "startTime": rfc3339(start),
        "endTime": rfc3339(start + timedelta(minutes=minutes)),
        "timeZone": "Asia/Seoul",
        "capacity": capacity,
        "waitlistCapacity": waitlist,
    }


def days_ahead(days: int, hour: int, minute: int = 0) -> datetime:
    """`hour`:`minute` in the studio, `days` days from today there."""
    return at_studio(studio_now().date() + timedelta(days=days), hour, minute)


# --- the API, beside the UI ------------------------------------------------------------------


def poll(check: Callable[[], Any], within: float = SETTLE_MS / 1000, what: str = "") -> Any:
    """`check()`'s first truthy answer, asked every 0.2 s for at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:.0f} s: {what or check}")
        time.sleep(0.2)


def reservations_of(api: JsonClient, user_id: str, class_id: str) -> list[dict[str, Any]]:
    """Every reservation of `user_id` for `class_id`, whatever its status."""
    found: list[dict[str, Any]] = []
    token = ""
    while True:
        path = f"/v1/reservations?userId={user_id}&classId={class_id}&pageSize=100"
        answer = api.ok("GET", path + (f"&pageToken={token}" if token else ""))
        found += answer.get("reservations", [])
        token = answer.get("nextPageToken", "")
        if not token:
            return found


def notification_kinds(api: JsonClient) -> dict[str, str]:
    """The signed-in member's notifications: kind by id."""
    answer = api.ok("GET", "/v1/users/me/notifications?pageSize=100")
    return {n["notificationId"]: n["kind"] for n in answer.get("notifications", [])}


# --- pages -----------------------------------------------------------------------------------


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    assert width <= viewport["width"], (
        f"{page.url} scrolls sideways: {width} px wide in a {viewport['width']} px viewport"
    )


def has_focus_in(page: Page, testid: str) -> bool:
    """Whether the focused element is the element `testid` or inside it."""
    return bool(
        page.evaluate(
            """(testid) => {
                const el = document.activeElement;
                return !!(el && el.closest(`[data-testid="${testid}"]`));
            }""",
            testid,
        )
    )


def tab_to(page: Page, testid: str, presses: int = 80) -> None:
    """Presses Tab until the element `testid` (or something inside it) has the focus (no
    press when it has it already)."""
    if has_focus_in(page, testid):
        return
    for _ in range(presses):
        page.keyboard.press("Tab")
        if has_focus_in(page, testid):
            return
    raise AssertionError(f"Tab never reached {testid} in {presses} presses")


# --- the member's way through the app --------------------------------------------------------

# The message keys of the words the tests look for (web/src/locales/<locale>/member.json).
STATUS_KEY = "member.status.{}"
BOOK_KEY = "member.class.book"
WAITLIST_KEY = "member.class.joinWaitlist"


def status_word(locale: str, status: str) -> re.Pattern[str]:
    """The word the app shows for a reservation status ("CONFIRMED", "WAITLISTED", ...)."""
    return pattern(locale, STATUS_KEY.format(status))


def monday_of(moment: datetime) -> date:
    """The Monday of the studio's week (Monday to Sunday in its zone) that holds `moment`."""
    day = moment.astimezone(STUDIO_ZONE).date()
    return day - timedelta(days=day.weekday())


def parse_time(text: str) -> datetime:
    """An API timestamp (RFC 3339, UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def weeks_ahead(start: datetime) -> int:
    """How many weeks after this one (in the studio) the week of `start` is."""
    return (monday_of(start) - monday_of(studio_now())).days // 7


def moved_on(page: Page, action: Callable[[], None]) -> None:
    """Does `action` and waits until the page's address changed."""
    shown = page.url
    action()
    page.wait_for_url(lambda url: url != shown)


def show_week_of(page: Page, class_id: str, start: datetime) -> None:
    """On the timetable (opened from the navigation), the week of a class starting at
    `start`: the week's "next" button as many times as it takes."""
    page.get_by_test_id("nav-timetable").click()
    expect(page.get_by_test_id("timetable")).to_be_visible()
    target = monday_of(start)
    for _ in range(weeks_ahead(start)):
        moved_on(page, lambda: page.get_by_test_id("week-next").click())
    if target != monday_of(studio_now()):
        expect(page).to_have_url(re.compile(f"week={target:%Y-%m-%d}"))
    expect(page.get_by_test_id(f"class-card-{class_id}")).to_be_visible()


def open_class(page: Page, class_id: str, start: datetime) -> None:
    """From the timetable to the class's own page, following its card."""
    show_week_of(page, class_id, start)
    page.get_by_test_id(f"class-card-{class_id}").get_by_role("link").click()
    page.wait_for_url(f"**/classes/{class_id}")
    expect(page.get_by_test_id("class-detail")).to_be_visible()


def expect_status(target: Locator, locale: str, status: str, timeout: int = SETTLE_MS) -> None:
    """`target` (a `my-status` or `entry-status`) shows reservation status `status`
    ("CONFIRMED"), by its data-status and in the locale's word."""
    expect(target).to_have_attribute("data-status", status, timeout=timeout)
    expect(target).to_have_text(status_word(locale, status))
