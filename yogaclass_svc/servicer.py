"""gRPC face of yogaclass_svc: maps protobuf to the domain and back, nothing more."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc
from yoga_common import pagination
from yoga_common.errors import ServiceError, Violations, invalid_field
from yoga_common.interceptors import Context, current_principal, role_table
from yoga_common.principal import ADMIN, MEMBER, SERVICE
from yoga_common.requests import check_duration, check_id, check_time, fingerprint
from yoga_common.timestamps import utcnow
from yogaclass_svc import series
from yogaclass_svc.catalog import Catalog
from yogaclass_svc.domain import (
    MAX_AHEAD,
    MAX_TITLE,
    MUTABLE_FIELDS,
    ClassDetails,
    SeatAnswer,
    validate_details,
)
from yogaclass_svc.messages import (
    seat_response,
    seat_result,
    series_to_proto,
    settings_to_proto,
    standing_to_proto,
    to_proto,
)
from yogaclass_svc.series_service import SeriesService
from yogaclass_svc.service import ClassService, SeatRequest
from yogaclass_svc.studio import (
    DEFAULT_RULES,
    DURATION_FIELDS,
    MUTABLE_SETTINGS,
    standing_owner,
    validate_rules,
)
from yogaclass_svc.studio_service import StudioService

# The most items one ReserveSeats carries (the proto says so): one transaction stays short.
MAX_SEAT_BATCH = 1000
SERVICE_NAME = yogaclass_pb2.DESCRIPTOR.services_by_name["YogaClassService"]
ROLES = role_table(
    SERVICE_NAME,
    {
        "CreateClass": {ADMIN},
        "GetClass": {ADMIN, MEMBER},
        "ListClasses": {ADMIN, MEMBER},
        "UpdateClass": {ADMIN},
        "DeleteClass": {ADMIN},
        # reservation_svc reads the check-in window and the no-show grace.
        "GetStudioSettings": {ADMIN, MEMBER, SERVICE},
        "UpdateStudioSettings": {ADMIN},
        # A member may read their own standing (the servicer checks whose it is).
        "GetMemberStanding": {ADMIN, MEMBER},
        "LiftBlock": {ADMIN},
        # The timetable: members read it, staff shape it.
        "CreateSeries": {ADMIN},
        "GetSeries": {ADMIN, MEMBER},
        "ListSeries": {ADMIN, MEMBER},
        "UpdateSeries": {ADMIN},
        "CancelSeries": {ADMIN},
        "ReserveSeat": {SERVICE},
        "ReserveSeats": {SERVICE},
        "ReleaseSeat": {SERVICE},
    },
)


def _time(msg: yogaclass_pb2.YogaClass, name: str, v: Violations) -> datetime | None:
    if not msg.HasField(name):
        v.add(f"yoga_class.{name}", "is required")
        return None
    return check_time(v, f"yoga_class.{name}", getattr(msg, name))


def _details(msg: yogaclass_pb2.YogaClass, v: Violations) -> ClassDetails:
    """The class the request describes. With a time missing or unusable, every other field is
    still checked (by the domain's rules, with stand-in times that break none of them), so
    the caller learns of every offending field at once."""
    start, end = _time(msg, "start_time", v), _time(msg, "end_time", v)
    now = utcnow()
    if start is None or start > now + MAX_AHEAD:  # too late for an hour to be added to it
        start_or_standin = now + timedelta(days=1)
    else:
        start_or_standin = start
    details = ClassDetails(
        title=msg.title,
        instructor=msg.instructor,
        start_time=start or start_or_standin,
        end_time=end or start_or_standin + timedelta(hours=1),
        time_zone=msg.time_zone or "UTC",
        capacity=msg.capacity,
        waitlist_capacity=msg.waitlist_capacity,
        cancellation_window=_window(msg, v),
    )
    if v.items:
        validate_details(details, now, v)  # raises, naming these and any other field
    return details


def _window(msg: yogaclass_pb2.YogaClass, v: Violations) -> timedelta | None:
    if not msg.HasField("cancellation_window"):
        return None
    return check_duration(v, "yoga_class.cancellation_window", msg.cancellation_window)


_MESSAGES = ("start_time", "end_time", "cancellation_window")


def _is_set(msg: yogaclass_pb2.YogaClass, name: str) -> bool:
    return msg.HasField(name) if name in _MESSAGES else bool(getattr(msg, name))


def _changes(request: yogaclass_pb2.UpdateClassRequest, v: Violations) -> dict[str, Any]:
    msg = request.yoga_class
    paths = list(dict.fromkeys(request.update_mask.paths))
    if paths == ["*"]:
        paths = list(MUTABLE_FIELDS)
    elif not paths:
        # No mask: change what the request sets (proto3 cannot tell "unset" from "zero").
        paths = [name for name in MUTABLE_FIELDS if _is_set(msg, name)]
        v.check(bool(paths), "update_mask", "nothing to change")
    for path in paths:
        if path not in MUTABLE_FIELDS:
            v.add("update_mask.paths", f"{path!r} cannot be changed")
        elif path.endswith("_time") and not msg.HasField(path):
            v.add(f"yoga_class.{path}", "is required by the update mask")
    changes = {path: _change(msg, path, v) for path in paths if path in MUTABLE_FIELDS}
    v.raise_if_any()
    return changes


def _change(msg: yogaclass_pb2.YogaClass, path: str, v: Violations) -> Any:
    if path.endswith("_time"):
        return check_time(v, f"yoga_class.{path}", getattr(msg, path))
    if path == "cancellation_window":
        return _window(msg, v)  # unset in the mask: back to the studio's
    return getattr(msg, path)


class YogaClassServicer(yogaclass_pb2_grpc.YogaClassServiceServicer):
    def __init__(
        self,
        service: ClassService,
        studio: StudioService,
        timetable: SeriesService,
        catalog: Catalog | None = None,
    ) -> None:
        self._service = service
        self._studio = studio
        self._series = timetable
        # GetClass and ListClasses answers (catalog.py); without one, each reads the database.
        self._catalog = catalog or Catalog(max_age=0)

    async def CreateClass(
        self, request: yogaclass_pb2.CreateClassRequest, context: Context
    ) -> yogaclass_pb2.CreateClassResponse:
        v = Violations()
        v.check(request.HasField("yoga_class"), "yoga_class", "is required")
        check_id(v, "request_id", request.request_id, required=False)
        # Without a class there is nothing more to name; with one, every offending field at once.
        details = _details(request.yoga_class, v) if request.HasField("yoga_class") else None
        v.raise_if_any()
        assert details is not None
        try:
            created = await self._service.create(
                details, request.request_id, fingerprint(request.yoga_class)
            )
        finally:
            self._catalog.forget_pages()  # a new class: pages may show it
        return yogaclass_pb2.CreateClassResponse(yoga_class=to_proto(created))

    async def GetClass(
        self, request: yogaclass_pb2.GetClassRequest, context: Context
    ) -> yogaclass_pb2.GetClassResponse:
        v = Violations()
        check_id(v, "class_id", request.class_id)
        v.raise_if_any()
        class_id = request.class_id

        async def read() -> yogaclass_pb2.GetClassResponse:
            found = await self._service.get(class_id)
            return yogaclass_pb2.GetClassResponse(yoga_class=to_proto(found))

        # The same message object answers many calls: nothing may change it after this.
        return await self._catalog.one(class_id, read)

    async def ListClasses(
        self, request: yogaclass_pb2.ListClassesRequest, context: Context
    ) -> yogaclass_pb2.ListClassesResponse:
        v = Violations()
        start = (
            check_time(v, "start_time", request.start_time)
            if request.HasField("start_time")
            else None
        )
        end = check_time(v, "end_time", request.end_time) if request.HasField("end_time") else None
        check_id(v, "series_id", request.series_id, required=False)
        v.text("instructor", request.instructor, MAX_TITLE)
        paging = pagination.keyset_paging(v, request.page_size, request.page_token)
        v.raise_if_any()
        series_id, instructor = request.series_id, request.instructor

        async def read() -> yogaclass_pb2.ListClassesResponse:
            page, token = await pagination.keyset_page(
                paging,
                lambda limit, after: self._service.page(
                    start, end, limit, after, series_id, instructor
                ),
                lambda c: (c.details.start_time, c.class_id),
            )
            return yogaclass_pb2.ListClassesResponse(
                yoga_classes=[to_proto(c) for c in page], next_page_token=token
            )

        key = (start, end, paging.size, paging.after, series_id, instructor)
        return await self._catalog.page(key, read, _shown)

    async def UpdateClass(
        self, request: yogaclass_pb2.UpdateClassRequest, context: Context
    ) -> yogaclass_pb2.UpdateClassResponse:
        v = Violations()
        v.check(request.HasField("yoga_class"), "yoga_class", "is required")
        check_id(v, "yoga_class.class_id", request.yoga_class.class_id)
        v.raise_if_any()
        changes = _changes(request, v)
        try:
            updated = await self._service.update(request.yoga_class.class_id, changes)
        finally:
            # Its time or instructor may move it onto pages that did not show it.
            self._catalog.forget(request.yoga_class.class_id, pages=True)
        return yogaclass_pb2.UpdateClassResponse(yoga_class=to_proto(updated))

    async def DeleteClass(
        self, request: yogaclass_pb2.DeleteClassRequest, context: Context
    ) -> yogaclass_pb2.DeleteClassResponse:
        v = Violations()
        check_id(v, "class_id", request.class_id)
        v.raise_if_any()
        try:
            cancelled = await self._service.cancel(request.class_id)
        finally:
            self._catalog.forget(request.class_id)
        return yogaclass_pb2.DeleteClassResponse(yoga_class=to_proto(cancelled))

    async def ReserveSeat(
        self, request: yogaclass_pb2.ReserveSeatRequest, context: Context
    ) -> yogaclass_pb2.ReserveSeatResponse:
        v = Violations()
        check_id(v, "class_id", request.class_id)
        check_id(v, "reservation_id", request.reservation_id)
        check_id(v, "user_id", request.user_id)
        v.raise_if_any()
        try:
            answer = await self._service.reserve_seat(
                request.class_id,
                request.reservation_id,
                request.user_id,
                join_waitlist=request.join_waitlist,
                override_limit=request.override_limit,
            )
        finally:
            self._catalog.forget(request.class_id)  # its seat count
        return seat_response(answer)

    async def ReserveSeats(
        self, request: yogaclass_pb2.ReserveSeatsRequest, context: Context
    ) -> yogaclass_pb2.ReserveSeatsResponse:
        if len(request.items) > MAX_SEAT_BATCH:
            raise invalid_field("items", f"at most {MAX_SEAT_BATCH} items")
        # An item with a bad id is refused alone, as ReserveSeat would refuse it.
        refused: dict[int, ServiceError] = {}
        wanted: list[tuple[int, SeatRequest]] = []
        for n, item in enumerate(request.items):
            v = Violations()
            check_id(v, f"items[{n}].class_id", item.class_id)
            check_id(v, f"items[{n}].reservation_id", item.reservation_id)
            check_id(v, f"items[{n}].user_id", item.user_id)
            try:
                v.raise_if_any()
            except ServiceError as err:
                refused[n] = err
                continue
            wanted.append(
                (
                    n,
                    SeatRequest(
                        item.class_id,
                        item.reservation_id,
                        item.user_id,
                        item.join_waitlist,
                        item.override_limit,
                    ),
                )
            )
        try:
            answers = await self._service.reserve_seats([r for _, r in wanted])
        finally:
            for class_id in {r.class_id for _, r in wanted}:
                self._catalog.forget(class_id)  # their seat counts
        results: dict[int, SeatAnswer | Exception] = dict(refused)
        results.update((n, a) for (n, _), a in zip(wanted, answers, strict=True))
        return yogaclass_pb2.ReserveSeatsResponse(
            results=[seat_result(results[n]) for n in range(len(request.items))]
        )

    async def ReleaseSeat(
        self, request: yogaclass_pb2.ReleaseSeatRequest, context: Context
    ) -> yogaclass_pb2.ReleaseSeatResponse:
        v = Violations()
        check_id(v, "class_id", request.class_id)
        check_id(v, "reservation_id", request.reservation_id)
        v.raise_if_any()
        try:
            released, current = await self._service.release_seat(
                request.class_id, request.reservation_id
            )
        finally:
            self._catalog.forget(request.class_id)
        return yogaclass_pb2.ReleaseSeatResponse(
            released=released, yoga_class=to_proto(current) if current else None
        )

    # --- studio settings and member standing (issue 14) ----------------------------------

    async def GetStudioSettings(
        self, request: yogaclass_pb2.GetStudioSettingsRequest, context: Context
    ) -> yogaclass_pb2.GetStudioSettingsResponse:
        settings = await self._studio.settings()
        return yogaclass_pb2.GetStudioSettingsResponse(settings=settings_to_proto(settings))

    async def UpdateStudioSettings(
        self, request: yogaclass_pb2.UpdateStudioSettingsRequest, context: Context
    ) -> yogaclass_pb2.UpdateStudioSettingsResponse:
        v = Violations()
        v.check(request.HasField("settings"), "settings", "is required")
        v.raise_if_any()
        updated = await self._studio.update_settings(_settings_changes(request, v))
        return yogaclass_pb2.UpdateStudioSettingsResponse(settings=settings_to_proto(updated))

    async def GetMemberStanding(
        self, request: yogaclass_pb2.GetMemberStandingRequest, context: Context
    ) -> yogaclass_pb2.GetMemberStandingResponse:
        v = Violations()
        check_id(v, "user_id", request.user_id)
        v.raise_if_any()
        principal = current_principal()
        user_id = standing_owner(principal, principal.user(request.user_id))
        standing = await self._studio.standing(user_id)
        return yogaclass_pb2.GetMemberStandingResponse(standing=standing_to_proto(standing))

    async def LiftBlock(
        self, request: yogaclass_pb2.LiftBlockRequest, context: Context
    ) -> yogaclass_pb2.LiftBlockResponse:
        v = Violations()
        check_id(v, "user_id", request.user_id)
        v.raise_if_any()
        standing = await self._studio.lift_block(request.user_id)
        return yogaclass_pb2.LiftBlockResponse(standing=standing_to_proto(standing))

    # --- series (issue 15) ---------------------------------------------------------------

    async def CreateSeries(
        self, request: yogaclass_pb2.CreateSeriesRequest, context: Context
    ) -> yogaclass_pb2.CreateSeriesResponse:
        v = Violations()
        v.check(request.HasField("series"), "series", "is required")
        check_id(v, "request_id", request.request_id, required=False)
        if not request.HasField("series"):
            v.raise_if_any()
        pattern = series.validate(_draft(request.series, v), utcnow(), v)
        try:
            created, made = await self._series.create(
                pattern, request.request_id, fingerprint(request.series)
            )
        finally:
            self._catalog.forget_all()  # the classes it made
        return yogaclass_pb2.CreateSeriesResponse(
            series=series_to_proto(created), classes_created=made
        )

    async def GetSeries(
        self, request: yogaclass_pb2.GetSeriesRequest, context: Context
    ) -> yogaclass_pb2.GetSeriesResponse:
        v = Violations()
        check_id(v, "series_id", request.series_id)
        v.raise_if_any()
        found = await self._series.get(request.series_id)
        return yogaclass_pb2.GetSeriesResponse(series=series_to_proto(found))

    async def ListSeries(
        self, request: yogaclass_pb2.ListSeriesRequest, context: Context
    ) -> yogaclass_pb2.ListSeriesResponse:
        v = Violations()
        v.text("instructor", request.instructor, MAX_TITLE)
        paging = pagination.keyset_paging(v, request.page_size, request.page_token)
        v.raise_if_any()
        page, token = await pagination.keyset_page(
            paging,
            lambda limit, after: self._series.page(request.instructor, limit, after),
            lambda s: (s.create_time, s.series_id),
        )
        return yogaclass_pb2.ListSeriesResponse(
            series=[series_to_proto(s) for s in page], next_page_token=token
        )

    async def UpdateSeries(
        self, request: yogaclass_pb2.UpdateSeriesRequest, context: Context
    ) -> yogaclass_pb2.UpdateSeriesResponse:
        v = Violations()
        v.check(request.HasField("series"), "series", "is required")
        check_id(v, "series.series_id", request.series.series_id)
        check_id(v, "request_id", request.request_id, required=False)
        _check_from_date(v, request.from_date)
        v.raise_if_any()
        changes = _series_changes(request, v)
        try:
            edit = await self._series.update(
                request.series.series_id,
                changes,
                request.from_date,
                request.request_id,
                fingerprint(request),
            )
        finally:
            self._catalog.forget_all()  # its classes
        answer = yogaclass_pb2.UpdateSeriesResponse(
            series=series_to_proto(edit.series), classes_updated=edit.classes_updated
        )
        if edit.previous is not None:
            answer.previous.CopyFrom(series_to_proto(edit.previous))
        return answer

    async def CancelSeries(
        self, request: yogaclass_pb2.CancelSeriesRequest, context: Context
    ) -> yogaclass_pb2.CancelSeriesResponse:
        v = Violations()
        check_id(v, "series_id", request.series_id)
        _check_from_date(v, request.from_date)
        v.raise_if_any()
        try:
            cancelled, count = await self._series.cancel(request.series_id, request.from_date)
        finally:
            self._catalog.forget_all()  # its classes
        return yogaclass_pb2.CancelSeriesResponse(
            series=series_to_proto(cancelled), classes_cancelled=count
        )


def _shown(answer: yogaclass_pb2.ListClassesResponse) -> list[str]:
    return [c.class_id for c in answer.yoga_classes]


def _check_from_date(v: Violations, text: str) -> None:
    v.check(
        not text or series.parse_date(text) is not None,
        "from_date",
        "must be a date like 2027-03-01",
    )


def _series_duration(msg: yogaclass_pb2.ClassSeries, name: str, v: Violations) -> timedelta | None:
    """A duration the series sets (None: unset). An unusable one is a violation, and a stand-in
    the domain accepts takes its place, so the field is named once."""
    if not msg.HasField(name):
        return None
    span = check_duration(v, series.PREFIX + name, getattr(msg, name))
    return span if span is not None or name != "duration" else timedelta(hours=1)


def _draft(msg: yogaclass_pb2.ClassSeries, v: Violations) -> series.Draft:
    return series.Draft(
        title=msg.title,
        instructor=msg.instructor,
        capacity=msg.capacity,
        waitlist_capacity=msg.waitlist_capacity,
        cancellation_window=_series_duration(msg, "cancellation_window", v),
        time_zone=msg.time_zone,
        start_date=msg.start_date,
        start_time=msg.start_time,
        duration=_series_duration(msg, "duration", v),
        recurrence=msg.recurrence,
    )


_SERIES_MESSAGES = ("duration", "cancellation_window")


def _series_change(msg: yogaclass_pb2.ClassSeries, path: str, v: Violations) -> Any:
    if path == "start_time":
        found = series.parse_time(msg.start_time)
        v.check(found is not None, "series.start_time", "must be a 24-hour time like 07:00")
        return found
    if path in _SERIES_MESSAGES:
        # An unset cancellation_window goes back to the studio's; a duration must be given.
        v.check(msg.HasField(path) or path != "duration", "series.duration", "is required")
        return _series_duration(msg, path, v)
    return getattr(msg, path)


def _series_changes(request: yogaclass_pb2.UpdateSeriesRequest, v: Violations) -> dict[str, Any]:
    """The fields an edit changes (its mask, or with none the fields the request sets), as
    Pattern values. A field of the series an edit cannot change is named."""
    msg = request.series
    known = {f.name for f in msg.DESCRIPTOR.fields} - {"series_id"}
    paths = list(dict.fromkeys(request.update_mask.paths))
    if paths == ["*"]:
        paths = list(series.EDITABLE)
    elif not paths:
        paths = [
            f.name
            for f, _ in msg.ListFields()
            if f.name in known and (f.name in series.EDITABLE or f.name not in _OUTPUT_ONLY)
        ]
        v.check(bool(paths), "update_mask", "nothing to change")
    for path in paths:
        if path not in series.EDITABLE:
            name = series.PREFIX + path if path in known else "update_mask.paths"
            v.add(name, f"{path!r} cannot be changed by an edit")
    changes = {p: _series_change(msg, p, v) for p in paths if p in series.EDITABLE}
    v.raise_if_any()
    return changes


# Set by a client that sends back a series it read: passed by when no mask names them.
_OUTPUT_ONLY = (
    "status",
    "cancelled_from",
    "previous_series_id",
    "materialized_until",
    "end_date",
    "create_time",
    "update_time",
    "version",
)


def _is_set_setting(msg: yogaclass_pb2.StudioSettings, name: str) -> bool:
    return msg.HasField(name) if name in DURATION_FIELDS else bool(getattr(msg, name))


def _setting(msg: yogaclass_pb2.StudioSettings, name: str, v: Violations) -> Any:
    """A setting as the domain takes it: an int, or a Duration as a timedelta (whole seconds,
    or a violation, and the default stands in so the domain checks the other fields; the
    domain checks the range)."""
    if name not in DURATION_FIELDS:
        return getattr(msg, name)
    span = check_duration(v, f"settings.{name}", getattr(msg, name))
    return getattr(DEFAULT_RULES, name) if span is None else span


def _settings_changes(
    request: yogaclass_pb2.UpdateStudioSettingsRequest, v: Violations
) -> dict[str, Any]:
    """The fields the update changes (its mask, or with none the fields the request sets),
    as StudioRules values. Output-only fields (update_time, version) cannot be named."""
    msg = request.settings
    paths = list(dict.fromkeys(request.update_mask.paths))
    if paths == ["*"]:
        paths = list(MUTABLE_SETTINGS)
    elif not paths:
        paths = [name for name in MUTABLE_SETTINGS if _is_set_setting(msg, name)]
        v.check(bool(paths), "update_mask", "nothing to change")
    for path in paths:
        if path not in MUTABLE_SETTINGS:
            v.add("update_mask.paths", f"{path!r} cannot be changed")
        elif path in DURATION_FIELDS and not msg.HasField(path):
            v.add(f"settings.{path}", "is required by the update mask")
    changes = {
        path: _setting(msg, path, v)
        for path in paths
        if path in MUTABLE_SETTINGS and (path not in DURATION_FIELDS or msg.HasField(path))
    }
    if v.items:
        # Every offending field at once: the domain's checks on what was given, too.
        try:
            validate_rules(replace(DEFAULT_RULES, **changes))
        except ServiceError as bad:
            v.items += [f for f in bad.violations if f not in v.items]
    v.raise_if_any()
    return changes
