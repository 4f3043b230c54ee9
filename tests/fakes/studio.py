"""A fake of the studio's settings (`reservation_svc.service.Studio`, in production
`StudioClient` reading yogaclass_svc): the rules it answers can be changed, or it can be down."""

from __future__ import annotations

from reservation_svc.domain import AttendanceRules
from reservation_svc.service import StudioUnavailable


class FakeStudio:
    def __init__(self, rules: AttendanceRules | None = None) -> None:
        self.rules = rules or AttendanceRules()
        self.down = False
        self.calls = 0

    async def attendance_rules(self) -> AttendanceRules:
        self.calls += 1
        if self.down:
            raise StudioUnavailable("yogaclass_svc did not answer")
        return self.rules
