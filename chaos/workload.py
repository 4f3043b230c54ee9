"""The clients of a chaos run: a few concurrent workers over gRPC (the generated stubs, tokens
from the identity provider), booking (joining the waitlist when a class is full), cancelling,
editing classes and deleting them (the studio cancels a class). Every call and its answer go to
the history: `ok` (the client was told it happened), `fail` (told it did not) or `info` (no
answer: it may or may not have happened). A call left without an answer is sent again with
the same request id, as a real client would."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2

from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common.auth import ADMIN, MEMBER

Token = Callable[[str, str], str]
# Answers that say nothing about whether the call took effect.
UNKNOWN = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
}
STAFF = "staff-1"
CALL_TIMEOUT = 8.0
RETRIES = 2


@dataclass
class Entry:
    t: float
    worker: int
    op: str
    args: dict[str, Any]
    outcome: str  # ok | fail | info
    answer: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass
class Settings:
    workers: int = 6
    members: int = 24
    # The members' account names at the provider: `<prefix><k>`. Two harnesses signing the
    # same accounts in at once on one provider can trip its brute-force guard.
    member_prefix: str = "chaos-"
    classes: int = 6
    capacity: int = 3
    waitlist: int = 3
    # Pause of a worker between calls, seconds: keeps the load moderate on 2 shared cores.
    pause: tuple[float, float] = (0.1, 0.4)


def status_name(value: int) -> str:
    return rpb.ReservationStatus.Name(value).removeprefix("RESERVATION_STATUS_")


def reservation_answer(r: rpb.Reservation) -> dict[str, Any]:
    return {
        "reservation_id": r.reservation_id,
        "class_id": r.class_id,
        "user_id": r.user_id,
        "status": status_name(r.status),
    }


@dataclass
class Workload:
    reservation_target: str
    yogaclass_target: str
    token: Token
    seed: int
    settings: Settings = field(default_factory=Settings)
    history: list[Entry] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    # Reservations the clients were told about: id -> member.
    known: dict[str, str] = field(default_factory=dict)
    _made: int = 0
    ran: float = 0.0
    # One token request per account at a time: the provider's brute-force guard disabled a
    # new account that several workers signed in at once.
    _signing: dict[str, asyncio.Lock] = field(default_factory=dict)
    _started: float = field(default_factory=time.monotonic)

    @staticmethod
    def members_of(settings: Settings) -> list[str]:
        return [f"{settings.member_prefix}{k}" for k in range(settings.members)]

    def members(self) -> list[str]:
        return self.members_of(self.settings)

    async def run(self, seconds: float, busy: Callable[[], bool] = lambda: False) -> None:
        """Creates the first classes, then runs the workers for `seconds`, and on while
        `busy()` (the nemesis has faults left)."""
        self._started = time.monotonic()
        async with (
            grpc.aio.insecure_channel(self.reservation_target) as rch,
            grpc.aio.insecure_channel(self.yogaclass_target) as ych,
        ):
            reservations = reservation_pb2_grpc.ReservationServiceStub(rch)
            classes = yogaclass_pb2_grpc.YogaClassServiceStub(ych)
            for user in self.members():  # every account made before the workers start
                await self._metadata(user, MEMBER)
            while len(self.classes) < self.settings.classes:
                await self._create(classes, -1)
            deadline = time.monotonic() + seconds

            def going() -> bool:
                return time.monotonic() < deadline or busy()

            await asyncio.gather(
                *(
                    self._worker(i, going, reservations, classes)
                    for i in range(self.settings.workers)
                )
            )
            self.ran = time.monotonic() - self._started

    async def _worker(
        self,
        i: int,
        going: Callable[[], bool],
        reservations: reservation_pb2_grpc.ReservationServiceStub,
        classes: yogaclass_pb2_grpc.YogaClassServiceStub,
    ) -> None:
        rng = random.Random(f"{self.seed}-{i}")
        while going():
            roll = rng.random()
            # Deletes are rare: each ends a class's bookings (and a new class replaces it).
            if roll < 0.6 or not self.known:
                await self._book(rng, i, reservations)
            elif roll < 0.82:
                await self._cancel(rng, i, reservations)
            elif roll < 0.98:
                await self._edit(rng, i, classes)
            else:
                await self._delete(rng, i, classes)
            await asyncio.sleep(rng.uniform(*self.settings.pause))

    async def _metadata(self, user: str, role: str) -> tuple[tuple[str, str], ...]:
        async with self._signing.setdefault(f"{role}:{user}", asyncio.Lock()):
            token = await asyncio.to_thread(self.token, user, role)
        return (("authorization", f"Bearer {token}"),)

    async def _call(
        self,
        worker: int,
        op: str,
        args: dict[str, Any],
        user: str,
        role: str,
        send: Callable[[tuple[tuple[str, str], ...]], Any],
        read: Callable[[Any], dict[str, Any]],
    ) -> dict[str, Any] | None:
        """One call, sent again (same request) while it has no answer: each try is logged."""
        for attempt in range(RETRIES + 1):
            began = time.monotonic() - self._started
            try:
                answer = await send(await self._metadata(user, role))
            except grpc.aio.AioRpcError as err:
                outcome = "info" if err.code() in UNKNOWN else "fail"
                self.history.append(
                    Entry(
                        began,
                        worker,
                        op,
                        args,
                        outcome,
                        error=f"{err.code().name}: {err.details()}",
                    )
                )
                if outcome == "fail" or attempt == RETRIES:
                    return None
                await asyncio.sleep(1.0)
                continue
            got = read(answer)
            self.history.append(Entry(began, worker, op, args, "ok", got))
            return got
        return None

    async def _book(
        self, rng: random.Random, worker: int, stub: reservation_pb2_grpc.ReservationServiceStub
    ) -> None:
        if not self.classes:
            return
        user = rng.choice(self.members())
        request = rpb.CreateReservationRequest(
            class_id=rng.choice(self.classes),
            request_id=str(uuid.uuid4()),
            decline_waitlist=rng.random() < 0.3,
        )
        got = await self._call(
            worker,
            "book",
            {"class_id": request.class_id, "request_id": request.request_id, "user": user},
            user,
            MEMBER,
            lambda md: stub.CreateReservation(request, metadata=md, timeout=CALL_TIMEOUT),
            lambda a: reservation_answer(a.reservation),
        )
        if got:
            self.known[got["reservation_id"]] = user

    async def _cancel(
        self, rng: random.Random, worker: int, stub: reservation_pb2_grpc.ReservationServiceStub
    ) -> None:
        reservation_id = rng.choice(sorted(self.known))
        user = self.known[reservation_id]
        request = rpb.CancelReservationRequest(reservation_id=reservation_id)
        await self._call(
            worker,
            "cancel",
            {"reservation_id": reservation_id, "user": user},
            user,
            MEMBER,
            lambda md: stub.CancelReservation(request, metadata=md, timeout=CALL_TIMEOUT),
            lambda a: reservation_answer(a.reservation),
        )

    async def _edit(
        self, rng: random.Random, worker: int, stub: yogaclass_pb2_grpc.YogaClassServiceStub
    ) -> None:
        """A new capacity (below the seats taken is refused) and title."""
        if not self.classes:
            return
        class_id = rng.choice(self.classes)
        capacity = rng.randint(1, self.settings.capacity + 2)
        request = ypb.UpdateClassRequest(
            yoga_class=ypb.YogaClass(
                class_id=class_id, capacity=capacity, title=f"Flow {capacity}"
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["capacity", "title"]),
        )
        await self._call(
            worker,
            "edit",
            {"class_id": class_id, "capacity": capacity},
            STAFF,
            ADMIN,
            lambda md: stub.UpdateClass(request, metadata=md, timeout=CALL_TIMEOUT),
            lambda a: {"capacity": a.yoga_class.capacity, "booked": a.yoga_class.booked},
        )

    async def _delete(
        self, rng: random.Random, worker: int, stub: yogaclass_pb2_grpc.YogaClassServiceStub
    ) -> None:
        """The studio cancels a class, and publishes a new one in its place."""
        if not self.classes:
            return
        class_id = rng.choice(self.classes)
        self.classes.remove(class_id)  # no new bookings for it from now on
        await self._call(
            worker,
            "delete",
            {"class_id": class_id},
            STAFF,
            ADMIN,
            lambda md: stub.DeleteClass(
                ypb.DeleteClassRequest(class_id=class_id), metadata=md, timeout=CALL_TIMEOUT
            ),
            lambda a: {},
        )
        await self._create(stub, worker)

    async def _create(self, stub: yogaclass_pb2_grpc.YogaClassServiceStub, worker: int) -> None:
        # Two hours apart, days ahead: no overlaps, no reminders, no late cancellations.
        self._made += 1
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(
            days=3, hours=2 * self._made
        )
        yoga_class = ypb.YogaClass(
            title=f"Chaos {self._made}",
            instructor="Jiwoo",
            time_zone="Asia/Seoul",
            capacity=self.settings.capacity,
            waitlist_capacity=self.settings.waitlist,
        )
        yoga_class.start_time.FromDatetime(start)
        yoga_class.end_time.FromDatetime(start + timedelta(hours=1))
        request = ypb.CreateClassRequest(yoga_class=yoga_class, request_id=str(uuid.uuid4()))
        got = await self._call(
            worker,
            "create",
            {"title": yoga_class.title, "request_id": request.request_id},
            STAFF,
            ADMIN,
            lambda md: stub.CreateClass(request, metadata=md, timeout=CALL_TIMEOUT),
            lambda a: {"class_id": a.yoga_class.class_id},
        )
        if got:
            self.classes.append(got["class_id"])

    def save(self, path: Path) -> None:
        with path.open("w") as out:
            for entry in self.history:
                out.write(json.dumps(asdict(entry)) + "\n")

    def tally(self) -> dict[str, dict[str, int]]:
        """Calls by operation and outcome."""
        found: dict[str, dict[str, int]] = {}
        for e in self.history:
            found.setdefault(e.op, {}).setdefault(e.outcome, 0)
            found[e.op][e.outcome] += 1
        return found
