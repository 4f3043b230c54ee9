"""The browser tests' world: one whole system (the four services on PostgreSQL, Kafka, the
suite's Keycloak, Envoy and nginx serving the built web app, as `make run` has them) and one
Chromium (Debian's), for every test of tests/e2e; each person gets a browser context of their
own. The gateway's origin is added to the `yoga-web` client's redirect URIs and web origins
at the provider for the length of the run, and removed after.

The fixtures are scoped to this package (tests/e2e has an __init__.py for that): the system
and the browser stop as soon as the last browser test ends, not at the end of the whole
suite; and Playwright's synchronous API, which keeps its own event loop marked as running
between calls, is gone before any asyncio test runs.

No Chromium at /usr/bin/chromium (`scripts/web.sh deps` installs it), no nginx, no built app:
the tests fail, they never skip."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from devtools.browser import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.support import (
    DESKTOP,
    FIGURES,
    ROOT,
    UI_MS,
    Person,
    at_provider,
    at_studio,
    class_json,
    figure,
    monday_of,
    notification_kinds,
    poll,
    register_at_provider,
    sign_in_at_provider,
    signed_in,
    studio_now,
    with_locale,
)
from tests.integration.conftest import ALL, Stack, accounts, provider_auth, system_under_test
from tests.integration.gateway_support import JsonClient
from tests.integration.support import request_id
from yoga_common.dev_accounts import DevAccounts
from yoga_common.principal import ADMIN, MEMBER

WEB_CLIENT = "yoga-web"
FAILURES = ROOT / "var" / "e2e" / "failures"

expect.set_options(timeout=UI_MS)


@contextmanager
def web_origin(provider: DevAccounts, origin: str) -> Iterator[None]:
    """`origin` may sign in with the web client while the block runs: in its redirect URIs
    (and so its post-logout ones, "+") and its web origins (the token endpoint's CORS)."""
    client_id = provider.admin("GET", f"clients?clientId={WEB_CLIENT}")[0]["id"]

    def change(add: bool) -> None:
        # Read just before writing: another test run may have changed the client meanwhile.
        client = provider.admin("GET", f"clients/{client_id}")
        uris = [u for u in client.get("redirectUris", []) if u != f"{origin}/*"]
        origins = [o for o in client.get("webOrigins", []) if o != origin]
        if add:
            uris.append(f"{origin}/*")
            origins.append(origin)
        client["redirectUris"], client["webOrigins"] = uris, origins
        provider.admin("PUT", f"clients/{client_id}", client)

    change(add=True)
    try:
        yield
    finally:
        change(add=False)


@dataclass
class E2E:
    """The system under test as the browser tests see it."""

    stack: Stack
    provider: DevAccounts
    browser: Browser
    staff: Person
    members: dict[str, Person] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        assert self.stack.envoy is not None
        return f"http://{self.stack.envoy.target}"

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    def api(self, token: str | None) -> JsonClient:
        assert self.stack.envoy is not None
        return JsonClient("127.0.0.1", self.stack.envoy.listen_port, token)

    def admin(self) -> JsonClient:
        """The JSON API as staff (a development account with the admin role)."""
        return self.api(self.provider.token("staff-1", ADMIN))

    def member(self, name: str) -> Person:
        """A member whose account exists at the provider (made through its admin API); the
        same Person for the same name within the run."""
        if name not in self.members:
            email = f"e2e-{name.lower()}@example.com"
            user_id = self.provider.ensure_user(name, MEMBER, email)
            password = self.provider.password(email)
            # Set again: an account an earlier run left at a long-lived provider keeps its
            # password otherwise, whatever made it.
            self.provider.admin(
                "PUT",
                f"users/{user_id}/reset-password",
                {"type": "password", "value": password, "temporary": False},
            )
            self.members[name] = Person(email, password, name, "Dev")
        return self.members[name]

    def member_api(self, person: Person) -> JsonClient:
        """The JSON API as a member made by `member()` (a token of the password grant)."""
        return self.api(self.provider.token(person.first_name, MEMBER, person.email))

    def create_class(self, body: dict[str, Any]) -> str:
        created = self.admin().ok("POST", "/v1/classes", body)
        return str(created["yogaClass"]["classId"])


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `scripts/web.sh deps` installs Debian's")
    # Only this run's failures.
    shutil.rmtree(FAILURES, ignore_errors=True)
    with sync_playwright() as playwright:
        launched = launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@pytest.fixture(scope="package")
def app(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    provider = accounts()
    began = time.monotonic()
    with system_under_test(
        "postgres",
        provider_auth(),
        tmp_path_factory.mktemp("e2e"),
        ALL,
        smtp_sink=True,
        gateway=True,
        web=True,
    ) as stack:
        figure("system start (s)", round(time.monotonic() - began, 1))
        staff = Person("admin@studio.example", provider.secret("demo-admin"), "Studio", "Admin")
        world = E2E(stack, provider, browser, staff)
        with web_origin(provider, world.origin):
            yield world


@dataclass
class Showcase:
    """A studio with a week of classes and a member who uses it: what the page tour shows
    (and photographs), made through the API."""

    member: Person
    member_id: str
    classes: dict[str, str]
    booked: str
    booked_start: datetime
    reservation_id: str
    waiting: str
    series_id: str


# A week of the timetable, Monday first (in the studio's zone), three weeks ahead: bookable,
# outside every cancellation window, and a week of its own (the other tests' classes are at
# most 8 days ahead), so that its pictures show only these.
SHOWCASE = (
    (0, 7, 0, "Morning Vinyasa", "Jiwoo", 12, 0),
    (0, 19, 30, "Yin Yoga", "Minji", 10, 0),
    (1, 12, 0, "Lunch Flow", "Mina", 8, 0),
    (2, 7, 0, "Morning Vinyasa", "Jiwoo", 12, 0),
    (2, 18, 30, "Power Yoga", "Seojun", 1, 3),
    (3, 9, 0, "Hatha Basics", "Minji", 15, 0),
    (4, 18, 0, "Prenatal Yoga", "Jiwoo", 6, 2),
    (5, 10, 0, "Restorative", "Mina", 10, 0),
)


@pytest.fixture(scope="package")
def showcase(app: E2E) -> Showcase:
    monday = monday_of(studio_now()) + timedelta(weeks=3)
    classes: dict[str, str] = {}
    for offset, hour, minute, title, teacher, capacity, waitlist in SHOWCASE:
        start = at_studio(monday + timedelta(days=offset), hour, minute)
        body = class_json(title, start, capacity=capacity, waitlist=waitlist, instructor=teacher)
        classes[f"{title} {offset}"] = app.create_class(body)
    member = app.member("Seoyeon")
    as_member = app.member_api(member)
    member_id = app.provider.user_id("Seoyeon", MEMBER, member.email)
    other = app.member_api(app.member("Daniel"))
    booked, waiting = classes["Morning Vinyasa 0"], classes["Power Yoga 2"]
    # Daniel holds the only seat of Power Yoga; Seoyeon waits for it.
    for client, class_id in (
        (as_member, booked),
        (as_member, classes["Yin Yoga 0"]),
        (other, booked),
        (other, waiting),
        (as_member, waiting),
    ):
        client.ok("POST", "/v1/reservations", {"classId": class_id, "requestId": request_id()})
    reservation = poll(
        lambda: [
            r
            for r in as_member.ok("GET", f"/v1/reservations?classId={booked}")["reservations"]
            if r["status"] == "RESERVATION_STATUS_CONFIRMED"
        ],
        what="the showcase booking",
    )[0]
    series = app.admin().ok(
        "POST",
        "/v1/series",
        {
            "title": "Sunset Flow",
            "instructor": "Mina",
            "capacity": 12,
            "timeZone": "Asia/Seoul",
            "startDate": f"{monday:%Y-%m-%d}",
            "startTime": "18:00",
            "duration": "3600s",
            "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=TU,TH;COUNT=6",
        },
    )
    # Her notifications have arrived before anyone looks at them.
    poll(lambda: len(notification_kinds(as_member)) >= 3, what="the showcase's notifications")
    return Showcase(
        member,
        member_id,
        classes,
        booked,
        at_studio(monday, 7),
        str(reservation["reservationId"]),
        waiting,
        str(series["series"]["seriesId"]),
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Kept on the test, so a fixture's teardown knows whether the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@dataclass
class Ui:
    """Browser contexts for one test; closed at its end (screenshots of their pages first,
    to var/e2e/failures/, when the test failed)."""

    app: E2E
    contexts: list[BrowserContext] = field(default_factory=list)
    # What went wrong inside the app's pages: uncaught errors, and console errors (among them
    # what the Content-Security-Policy refused).
    problems: list[str] = field(default_factory=list)

    def page(
        self,
        person: Person | None = None,
        *,
        locale: str = "ko",
        viewport: ViewportSize | None = None,
        time_zone: str = "UTC",
        bypass_csp: bool = False,
    ) -> Page:
        """A new context (a new browser profile) on the app's start page, with `person`
        signed in (through the provider's sign-in form, the first time) and `locale`
        remembered by the app."""
        state = with_locale(person.state if person else None, self.app.origin, locale)
        context = self.app.browser.new_context(
            viewport=viewport or DESKTOP,
            storage_state=state,  # type: ignore[arg-type]
            locale="ko-KR" if locale == "ko" else "en-US",
            timezone_id=time_zone,
            bypass_csp=bypass_csp,
        )
        self.contexts.append(context)
        page = context.new_page()
        self.watch(page)
        page.goto(self.app.origin + "/")
        if person is not None:
            if person.state is None:
                self.sign_in(page, person)
            expect(signed_in(page)).to_be_visible()
        return page

    def watch(self, page: Page) -> None:
        def error(found: Exception) -> None:
            self.problems.append(f"{page.url}: uncaught {found}")

        def console(message: ConsoleMessage) -> None:
            if message.type == "error" and page.url.startswith(self.app.origin):
                self.problems.append(f"{page.url}: console: {message.text}")

        page.on("pageerror", error)
        page.on("console", console)

    def sign_in(self, page: Page, person: Person) -> None:
        """Signs in from the app's start page (the welcome's button), as a person would."""
        page.get_by_test_id("welcome-sign-in").click()
        page.wait_for_url(lambda url: at_provider(url, self.app.issuer))
        sign_in_at_provider(page, person)
        page.wait_for_url(lambda url: url.startswith(self.app.origin))
        expect(signed_in(page)).to_be_visible()
        person.state = dict(page.context.storage_state())

    def sign_up(self, person: Person, *, locale: str = "ko") -> Page:
        """A newcomer registers at the provider from the app's "create account" and comes
        back signed in."""
        page = self.page(locale=locale)
        page.get_by_test_id("welcome-sign-up").click()
        page.wait_for_url(lambda url: at_provider(url, self.app.issuer))
        register_at_provider(page, person)
        page.wait_for_url(lambda url: url.startswith(self.app.origin))
        expect(signed_in(page)).to_be_visible()
        person.state = dict(page.context.storage_state())
        return page

    def close(self, failed_test: str = "") -> None:
        for n, context in enumerate(self.contexts):
            if failed_test:
                FAILURES.mkdir(parents=True, exist_ok=True)
                for m, page in enumerate(context.pages):
                    try:
                        page.screenshot(path=FAILURES / f"{failed_test}-{n}-{m}.png")
                    except Exception as error:  # a crashed page: the failure tells more
                        print(f"no screenshot of {page.url}: {error}")
            context.close()
        self.contexts.clear()


@pytest.fixture
def ui(app: E2E, request: pytest.FixtureRequest) -> Generator[Ui]:
    opened = Ui(app)
    yield opened
    report = getattr(request.node, "report_call", None)
    failed = bool(report and report.failed)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
    opened.close(failed_test=safe if failed else "")
    # A test that passed on pages throwing errors (or refused by their own policy) did not.
    assert failed or not opened.problems, "\n".join(opened.problems)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("browser tests: measured")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")
    out = ROOT / "var" / "e2e" / "figures.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2, ensure_ascii=False) + "\n")
