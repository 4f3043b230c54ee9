"""The image built and run as the chart would run it (issue 18): the image holds the runtime
only; every service runs in containers that are read-only, non-root and without capabilities,
two replicas each on PostgreSQL, with the chart's settings; the seed scenario passes through
the gateway as JSON and as gRPC; a rolling restart of every service under a load of bookings
fails no call and loses no event."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

from devtools import containers
from tests.containers.conftest import Figures
from tests.containers.load import Load, check_no_event_lost
from tests.containers.system import ContainerSystem
from tests.integration.gateway_support import (
    booked_then_cancelled_arrived,
    booking,
    class_json,
    until,
)
from tests.integration.support import a_class, eventually, request_id
from yoga.mypage.v1 import mypage_pb2_grpc
from yoga.notification.v1 import notification_pb2_grpc
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common import system
from yoga_common.auth import ADMIN

ROOT = Path(__file__).resolve().parents[2]
# What the image's /app holds: the generated code and the runtime packages, nothing else.
RUNTIME = {"gen", "yoga_common", *(s.package for s in system.SERVICES.values())}

LIST_APP = """
import json, os
found = []
for top, dirs, files in os.walk('/app'):
    dirs[:] = [d for d in dirs if d != '__pycache__']
    found += [os.path.relpath(os.path.join(top, n), '/app') for n in dirs + files]
print(json.dumps(sorted(found)))
"""
LIST_DISTRIBUTIONS = """
import json, importlib.metadata as m
print(json.dumps(sorted({d.metadata['Name'].lower() for d in m.distributions()})))
"""


def _normal(requirement: str) -> str:
    """The distribution's name of a requirement (`PyJWT[crypto]==2.15.1` -> `pyjwt`)."""
    name = requirement.split(";")[0]
    for mark in "[=<>~! ":
        name = name.split(mark)[0]
    return name.strip().lower().replace("_", "-")


def test_the_image_holds_the_runtime_only(image: str) -> None:
    """/app: the generated code and the runtime packages; no tests, bench, devtools, scripts
    or web sources. The venv: the runtime dependencies; none of the dev extra (pytest, ruff,
    mypy, hypothesis, playwright...), which the runtime does not need."""
    listed = json.loads(containers.run_in_image(image, "-c", LIST_APP))
    top = {path.split("/")[0] for path in listed}
    assert top == RUNTIME, top ^ RUNTIME
    for tooling in ("tests", "bench", "devtools", "scripts", "web", "node_modules"):
        assert not [p for p in listed if tooling in p.split("/")], tooling
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_normal(r) for r in project["dependencies"]}
    dev_only = {_normal(r) for r in project["optional-dependencies"]["dev"]} - runtime
    installed = set(json.loads(containers.run_in_image(image, "-c", LIST_DISTRIBUTIONS)))
    assert runtime <= {n.replace("_", "-") for n in installed}
    assert not dev_only & {n.replace("_", "-") for n in installed}, dev_only & installed
    assert "playwright" in dev_only and "pytest" in dev_only  # the check sees the dev extra


def test_every_replica_runs_as_the_chart_says(cluster: ContainerSystem, figures: Figures) -> None:
    """Two replicas each (the HPA's minReplicas); each read-only, as 10001, with no
    capability and no privilege escalation, /tmp a tmpfs, the chart's limits."""
    assert {name: len(each) for name, each in cluster.replicas.items()} == {
        name: 2 for name in system.SERVICES
    }
    for each in cluster.replicas.values():
        for container in each:
            found = container.inspect()
            host, config = found["HostConfig"], found["Config"]
            assert found["State"]["Running"], container.name
            assert host["ReadonlyRootfs"] is True
            assert config["User"] == "10001:10001"
            assert host["CapDrop"] and not host["CapAdd"]
            assert found["EffectiveCaps"] in (None, [])
            assert "no-new-privileges" in host["SecurityOpt"]
            assert "/tmp" in host["Tmpfs"]
            assert host["Memory"] > 0 and host["NanoCpus"] > 0
            # The process itself: uid 10001, no capability in any set.
            status = containers.podman("exec", container.name, "cat", "/proc/1/status")
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            assert fields["Uid"].split()[0] == "10001", fields["Uid"]
            for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                assert int(fields[cap], 16) == 0, (container.name, cap, fields[cap])
            assert fields["NoNewPrivs"].strip() == "1"
    # Every replica runs as uid 10001 on this host, and the nproc ulimit (containers.conf)
    # counts the threads of all of them together: how many there are.
    threads = subprocess.run(
        ["ps", "-L", "-u", "10001", "--no-headers"], capture_output=True, text=True, check=True
    ).stdout.count("\n")
    figures.note("threads_of_uid_10001", threads)


def test_seed_scenario_as_json(cluster: ContainerSystem) -> None:
    """The seed demo through the gateway as JSON: 2 seats; 11 and 12 get them, 13 is
    refused; 11 cancels; 13 books again and gets the freed seat. Notifications, emails and my
    page follow."""
    admin = cluster.admin_json()
    created = admin.ok("POST", "/v1/classes", class_json(2, title="Container Flow"))
    class_id = created["yogaClass"]["classId"]
    users = {u: cluster.json(u) for u in ("11", "12", "13")}

    def book(user: str) -> dict[str, Any]:
        return dict(users[user].ok("POST", "/v1/reservations", booking(class_id))["reservation"])

    r11, r12, r13 = book("11"), book("12"), book("13")
    assert (r11["status"], r12["status"]) == ("RESERVATION_STATUS_CONFIRMED",) * 2
    assert (r13["status"], r13["reason"]) == (
        "RESERVATION_STATUS_REJECTED",
        "RESERVATION_REASON_CLASS_FULL",
    )
    cancelled = users["11"].ok("POST", f"/v1/reservations/{r11['reservationId']}:cancel")
    assert cancelled["reservation"]["status"] == "RESERVATION_STATUS_CANCELLED"
    again = book("13")
    assert again["status"] == "RESERVATION_STATUS_CONFIRMED"
    seats = users["12"].ok("GET", f"/v1/classes/{class_id}")["yogaClass"]["booked"]
    assert seats == 2

    def kinds(user: str) -> list[str]:
        page = users[user].ok("GET", "/v1/users/me/notifications?pageSize=50")
        return sorted(n["kind"] for n in page["notifications"] if n["classId"] == class_id)

    def page(user: str) -> list[str]:
        entries = users[user].ok("GET", "/v1/users/me/mypage?pageSize=100")["entries"]
        return sorted(e["status"] for e in entries if e["classId"] == class_id)

    until(
        lambda: (
            kinds("11") == ["NOTIFICATION_KIND_BOOKED", "NOTIFICATION_KIND_CANCELLED"]
            and kinds("12") == ["NOTIFICATION_KIND_BOOKED"]
            and kinds("13") == ["NOTIFICATION_KIND_BOOKED", "NOTIFICATION_KIND_REJECTED"]
            and page("11") == ["RESERVATION_STATUS_CANCELLED"]
            and page("13") == ["RESERVATION_STATUS_CONFIRMED", "RESERVATION_STATUS_REJECTED"]
        ),
        within=30,
    )
    # Each notification went out by email, to the member's address, through the SMTP sink.
    until(lambda: len(_mails_to(cluster, "user13@example.com", created["yogaClass"])) >= 2, 30)


def _mails_to(cluster: ContainerSystem, address: str, yoga_class: dict[str, Any]) -> list[str]:
    found = []
    for path in cluster.mail_folder.glob("*.eml"):
        text = path.read_text(errors="replace")
        if f"To: {address}" in text and yoga_class["title"] in text:
            found.append(path.name)
    return found


async def test_seed_scenario_as_grpc_through_the_gateway(cluster: ContainerSystem) -> None:
    async with cluster.channel() as channel:
        classes = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
        reservations = reservation_pb2_grpc.ReservationServiceStub(channel)
        notifications = notification_pb2_grpc.NotificationServiceStub(channel)
        mypage = mypage_pb2_grpc.MyPageServiceStub(channel)
        created = await classes.CreateClass(
            ypb.CreateClassRequest(yoga_class=a_class(2)),
            metadata=cluster.metadata("staff-1", ADMIN),
        )
        class_id = created.yoga_class.class_id

        async def book(user: str) -> rpb.Reservation:
            answer = await reservations.CreateReservation(
                rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
                metadata=cluster.metadata(user),
            )
            return answer.reservation

        r11, r12, r13 = await book("11"), await book("12"), await book("13")
        assert (r11.status, r12.status) == (rpb.RESERVATION_STATUS_CONFIRMED,) * 2
        assert (r13.status, r13.reason) == (
            rpb.RESERVATION_STATUS_REJECTED,
            rpb.RESERVATION_REASON_CLASS_FULL,
        )
        await reservations.CancelReservation(
            rpb.CancelReservationRequest(reservation_id=r11.reservation_id),
            metadata=cluster.metadata("11"),
        )
        assert (await book("13")).status == rpb.RESERVATION_STATUS_CONFIRMED
        got = await classes.GetClass(
            ypb.GetClassRequest(class_id=class_id), metadata=cluster.metadata("12")
        )
        assert got.yoga_class.booked == 2

        async def arrived() -> bool:
            return await booked_then_cancelled_arrived(
                notifications, mypage, cluster.metadata("11"), class_id
            )

        await eventually(arrived, within=30.0)


async def test_rolling_restart_under_load(cluster: ContainerSystem, figures: Figures) -> None:
    """Each service in turn, replica 1 then replica 2: SIGTERM, start again, wait until
    SERVING (the seconds from `podman start` to SERVING are the image's start time);
    meanwhile members book (half through gRPC, half as JSON) and read their class,
    notifications and page through the gateway. No call fails; afterwards every booking that
    was confirmed has exactly one notification, one email and its my-page row."""
    load = await Load.prepared(cluster)
    running = asyncio.create_task(load.run())
    restarts: dict[str, list[float]] = {}
    during: dict[str, int] = {}
    try:
        await asyncio.sleep(2)  # the load is under way before the first stop
        for name in system.SERVICES:
            began = time.monotonic()
            for index in range(len(cluster.replicas[name])):
                seconds = await asyncio.to_thread(cluster.restart, name, index)
                restarts.setdefault(name, []).append(round(seconds, 2))
                await asyncio.sleep(1)
            during[name] = load.bookings_between(began, time.monotonic())
    finally:
        load.stop()
        await running
    figures.note("rolling_restart_start_to_serving_seconds", restarts)
    every = [s for each in restarts.values() for s in each]
    figures.note("start_to_serving_median_seconds", round(statistics.median(every), 2))
    assert statistics.median(every) < 15, restarts
    figures.note("load", load.summary())
    figures.note("bookings_confirmed_during_each_rolling_restart", during)
    assert not load.failures, load.failures[:10]
    # The load really ran through every restart.
    assert all(n >= 10 for n in during.values()), during
    assert load.reads, load.summary()
    # Envoy balanced every service over both replicas.
    served = await asyncio.to_thread(_requests_per_replica, cluster)
    figures.note("gateway_requests_per_replica", served)
    assert all(n > 0 for each in served.values() for n in each.values()), served
    accepted = load.confirmed | load.pending
    checked = await asyncio.to_thread(check_no_event_lost, cluster, accepted)
    figures.note("checked_after_restarts", checked)


def _requests_per_replica(cluster: ContainerSystem) -> dict[str, dict[str, int]]:
    """Envoy's count of successful requests to each replica of each service."""
    assert cluster.envoy is not None
    with urllib.request.urlopen(f"{cluster.envoy.admin_url()}/clusters?format=json") as answer:
        statuses = json.loads(answer.read())["cluster_statuses"]
    found: dict[str, dict[str, int]] = {}
    for status in statuses:
        if status["name"] not in system.SERVICES:
            continue
        for host in status.get("host_statuses", ()):
            address = host["address"]["socket_address"]
            stats = {s["name"]: int(s.get("value", 0)) for s in host.get("stats", ())}
            found.setdefault(status["name"], {})[str(address["port_value"])] = stats.get(
                "rq_success", 0
            )
    return found
