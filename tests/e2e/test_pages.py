"""Every page of the app, in Korean and English, on a desktop (1280x800) and a phone (390x844):
axe-core finds no serious or critical violation on any of them (lesser findings are printed),
no page scrolls sideways on the phone, and each is photographed (the viewport) to
var/screenshots/, or to docs/screenshots/ with YOGA_SCREENSHOTS=docs (`make screenshots`;
those are the README's pictures)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import E2E, Showcase, Ui
from tests.e2e.support import (
    DESKTOP,
    PHONE,
    ROOT,
    WEB,
    figure,
    no_horizontal_scroll,
    show_week_of,
)

AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / ("docs" if os.environ.get("YOGA_SCREENSHOTS") == "docs" else "var") / "screenshots"
BLOCKING = {"serious", "critical"}


@dataclass(frozen=True)
class Tour:
    """A page: its name (of its pictures), who looks at it ("member", "staff" or "" signed
    out), its path and the test id that shows once its data is there (what the picture should
    hold); both may name the showcase's ids, e.g. {booked}."""

    name: str
    who: str
    path: str
    ready: str

    def url(self, show: Showcase) -> str:
        return self.path.format(**vars(show))

    def wait(self, page: Page, show: Showcase) -> None:
        if self.name == "timetable":
            # The showcase's week is next week: its "next" button.
            show_week_of(page, show.booked, show.booked_start)
        expect(page.get_by_test_id(self.ready.format(**vars(show))).first).to_be_visible()


PAGES = (
    Tour("welcome", "", "/", "welcome"),
    Tour("timetable", "member", "/", "class-card-{booked}"),
    Tour("class", "member", "/classes/{booked}", "my-status"),
    Tour("class-waitlist", "member", "/classes/{waiting}", "waitlist-position"),
    Tour("mypage", "member", "/me", "mypage-entry-{reservation_id}"),
    Tour("notifications", "member", "/notifications", "notification-subject"),
    Tour("staff-classes", "staff", "/staff/classes", "roster-link"),
    Tour("staff-class-form", "staff", "/staff/classes/new", "class-form"),
    Tour("staff-roster", "staff", "/staff/classes/{booked}/roster", "roster-row-{reservation_id}"),
    Tour("staff-series", "staff", "/staff/series", "series-row-{series_id}"),
    Tour("staff-series-form", "staff", "/staff/series/new", "series-form"),
    Tour("staff-member", "staff", "/staff/members/{member_id}", "standing-strikes"),
    Tour("staff-settings", "staff", "/staff/settings", "save-settings"),
)


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return list(found)


@pytest.mark.parametrize(
    ("locale", "device"),
    [("ko", "desktop"), ("ko", "phone"), ("en", "desktop"), ("en", "phone")],
)
def test_every_page_is_accessible_fits_the_screen_and_is_photographed(
    app: E2E, ui: Ui, showcase: Showcase, locale: str, device: str
) -> None:
    assert AXE.exists(), f"{AXE} is missing: `cd web && npm ci`"
    viewport = PHONE if device == "phone" else DESKTOP
    people = {"member": showcase.member, "staff": app.staff}
    pages: dict[str, Page] = {}
    blocking: list[str] = []
    lesser: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for tour in PAGES:
        if tour.who not in pages:
            # axe is added as a script of the page: the app's Content-Security-Policy (scripts
            # of its own origin only) is set aside for these contexts alone.
            pages[tour.who] = ui.page(
                people.get(tour.who), locale=locale, viewport=viewport, bypass_csp=True
            )
        page = pages[tour.who]
        page.goto(app.origin + tour.url(showcase))
        tour.wait(page, showcase)
        expect(page.locator("html")).to_have_attribute("lang", locale)
        if device == "phone":
            no_horizontal_scroll(page)
        for violation in axe(page):
            where = ", ".join(str(n["target"]) for n in violation["nodes"][:3])
            line = (
                f"{tour.name}: {violation['impact']} {violation['id']} "
                f"({len(violation['nodes'])}x: {where}): {violation['help']}"
            )
            (blocking if violation["impact"] in BLOCKING else lesser).append(line)
        page.screenshot(path=SHOTS / f"{tour.name}-{locale}-{device}.png", animations="disabled")
    key = f"axe findings below serious ({locale}, {device})"
    figure(key, lesser or "none")
    assert not blocking, "axe found serious or critical violations:\n" + "\n".join(blocking)
