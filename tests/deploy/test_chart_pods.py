"""devtools/chart_pods.py reads the rendered chart as the kubelet would: each service's
environment from its ConfigMap and Secret, its security context, volumes and limits turned into
podman's flags, its replica count from the HPA; and the gateway's configuration of the chart,
pointed at replicas on this machine, is one Envoy accepts."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from devtools import chart_pods, envoy
from devtools.cluster import chart_values
from devtools.deploy_check.objects import of_kind
from yoga_common import system
from yoga_common.settings import AuthSettings, KafkaSettings

Obj = dict[str, Any]


def _config_map(objs: list[Obj], name: str) -> dict[str, str]:
    return next(o["data"] for o in of_kind(objs, "ConfigMap") if o["metadata"]["name"] == name)


def test_each_service_gets_the_environment_the_chart_gives_it(rendered: list[Obj]) -> None:
    found = chart_pods.workloads(rendered)
    assert set(found) == set(system.SERVICES)
    secret = next(of_kind(rendered, "Secret"))["stringData"]
    for name, workload in found.items():
        prefix = system.service(name).env_prefix
        # Everything of its ConfigMap, and its database URL from the Secret.
        assert _config_map(rendered, f"{name}-env").items() <= workload.env.items()
        assert workload.env[f"{prefix}DATABASE_URL"] == secret[f"{name}-database-url"]
        assert workload.args == (system.service(name).package,)
        assert workload.replicas == 2  # the HPA's minReplicas
        assert workload.readiness_service == system.service(name).grpc_service
    # Only the service that calls others holds the client secret.
    holders = {n for n, w in found.items() if "YOGA_JWT_CLIENT_SECRET" in w.env}
    assert holders == {"reservation"}
    assert found["reservation"].env["YOGA_JWT_CLIENT_SECRET"] == secret["client-secret"]


def test_the_pod_spec_becomes_podmans_flags(rendered: list[Obj], tmp_path: Path) -> None:
    workload = chart_pods.workloads(rendered)["yogaclass"]
    spec = workload.spec("c1", "sha256:abc", workload.env)
    args = spec.run_args(tmp_path / "env", tmp_path / "log")
    assert args[-2:] == ["sha256:abc", "yogaclass_svc"]
    pairs = set(itertools.pairwise(args))
    for flag in (
        ("--user", "10001:10001"),
        ("--cap-drop", "ALL"),
        ("--security-opt", "no-new-privileges"),
        ("--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=64m"),
        ("--memory", "512m"),
        ("--cpus", "1"),
        ("--stop-timeout", "30"),
    ):
        assert flag in pairs, (flag, args)
    assert "--read-only" in args and "--read-only-tmpfs=false" in args
    notification = chart_pods.workloads(rendered)["notification"]
    assert notification.spec("c2", "x", {}).cpus == "0.5"  # 500m


def test_a_replica_changes_only_addresses(rendered: list[Obj]) -> None:
    workload = chart_pods.workloads(rendered)["reservation"]
    peers = {"yogaclass": ["127.0.0.1:1001", "127.0.0.1:1002"]}
    env = chart_pods.per_replica(workload, 2001, 3001, peers)
    changed = {k for k in env if env[k] != workload.env.get(k)}
    assert changed == {
        "RESERVATION_HOST",
        "RESERVATION_PORT",
        "RESERVATION_METRICS_PORT",
        "RESERVATION_YOGACLASS_TARGET",
    }
    assert env["RESERVATION_YOGACLASS_TARGET"] == "ipv4:127.0.0.1:1001,127.0.0.1:1002"
    assert (env["RESERVATION_HOST"], env["RESERVATION_PORT"]) == ("127.0.0.1", "2001")


def test_the_charts_gateway_config_serves_two_replicas_here(
    rendered: list[Obj], tmp_path: Path
) -> None:
    endpoints = {name: [("127.0.0.1", 1000 + i), ("127.0.0.1", 2000 + i)] for i, name in
                 enumerate(system.SERVICES)}  # fmt: skip
    services = {name: s.grpc_service for name, s in system.SERVICES.items()}
    path = chart_pods.gateway_config(rendered, tmp_path, 18088, 18089, endpoints, services)
    config = yaml.safe_load(path.read_text())
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    for name in system.SERVICES:
        hosts = clusters[name]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        assert len(hosts) == 2
        check = clusters[name]["health_checks"][0]["grpc_health_check"]
        assert check["service_name"] == services[name]
    listeners = config["static_resources"]["listeners"]
    assert {li["address"]["socket_address"]["address"] for li in listeners} == {"127.0.0.1"}
    assert (tmp_path / "yoga.pb").read_bytes()[:1]  # the descriptor set, written beside it
    envoy.validate(path)


def _rendered_on(backend: str) -> list[Obj]:
    auth = AuthSettings(issuer="http://127.0.0.1:1/realms/studio", client_secret=SecretStr("s"))
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:2", prefix="t.")
    urls = {name: f"postgresql+psycopg://u@127.0.0.1:3/{name}" for name in system.SERVICES}
    env = {"reservation": {"RESERVATION_PENDING_GRACE_SECONDS": "2"}}
    values = chart_values(backend, urls if backend == "postgres" else {}, auth, kafka, 25, env)
    return chart_pods.render(values)


def test_on_sqlite_each_service_is_one_replica_with_its_file_on_a_bound_folder(
    tmp_path: Path,
) -> None:
    found = chart_pods.workloads(_rendered_on("sqlite"))
    for name, workload in found.items():
        assert workload.replicas == 1  # the chart allows no more on one file
        (claim,) = workload.claims.values()
        folder = tmp_path / claim
        spec = workload.spec("c", "x", workload.env, {claim: folder})
        assert ("--volume", f"{folder}:/data:rw,nosuid,nodev") in set(
            itertools.pairwise(spec.run_args(tmp_path / "env", tmp_path / "log"))
        )
        url = workload.env[f"{system.service(name).env_prefix}DATABASE_URL"]
        assert url == f"sqlite:////data/{name}.db"
        assert chart_pods.host_url(url, workload.mounts({claim: folder})) == (
            f"sqlite:///{folder}/{name}.db"
        )
    assert found["reservation"].env["RESERVATION_PENDING_GRACE_SECONDS"] == "2"


def test_on_postgresql_the_values_reach_each_service() -> None:
    found = chart_pods.workloads(_rendered_on("postgres"))
    for name, workload in found.items():
        prefix = system.service(name).env_prefix
        assert workload.replicas == 2 and workload.claims == {}
        assert workload.env[f"{prefix}DATABASE_URL"].endswith(f"/{name}")
        assert workload.env["YOGA_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:2"
        assert workload.env["YOGA_KAFKA_PREFIX"] == "t."
    assert found["notification"].env["NOTIFICATION_SMTP_PORT"] == "25"


def test_a_sqlite_url_off_every_volume_is_refused() -> None:
    with pytest.raises(ValueError, match="no volume"):
        chart_pods.host_url("sqlite:////app/x.db", {"/data": "/tmp/d"})
    assert chart_pods.host_url("postgresql://h/db", {}) == "postgresql://h/db"
