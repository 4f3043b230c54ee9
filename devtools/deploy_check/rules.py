"""The project's own rules for what it deploys: probes, resources, service accounts, gRPC port
names, zero-downtime rollouts, shutdown budgets, an AuthorizationPolicy per workload naming only
methods that exist, mTLS, no Istio retries (the gRPC channel retries: one layer only), the Kafka
topics of the code, no private key anywhere (the issuer holds the signing keys). `project_problems`
runs them all, with the gateway's and the wiring's."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from devtools.deploy_check.gateway import gateway_problems
from devtools.deploy_check.objects import Obj, name_of, of_kind, pod_labels, pod_spec, selects
from devtools.deploy_check.wiring import allow_list_problems


@functools.cache
def grpc_methods() -> frozenset[str]:
    """Every `/package.Service/Method` path of the project's protos (gen/), and health's."""
    from devtools.gateway_config import SERVICES

    paths = {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"}
    for service in SERVICES.values():
        paths |= {f"/{service.full_name}/{m.name}" for m in service.methods}
    return frozenset(paths)


def kafka_topics(prefix: str) -> list[str]:
    from yoga_common.topics import all_topics

    return [prefix + topic for topic in all_topics()]


def _env(objs: Sequence[Obj], deployment: Obj) -> dict[str, str]:
    """The settings a Deployment's first container gets from its ConfigMaps."""
    env: dict[str, str] = {}
    maps = {name_of(m): m.get("data", {}) for m in of_kind(objs, "ConfigMap")}
    for container in pod_spec(deployment).get("containers", [])[:1]:
        for source in container.get("envFrom", []):
            env.update(maps.get(source.get("configMapRef", {}).get("name", ""), {}))
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
    return env


def _strategy_problems(deployment: Obj) -> list[str]:
    """Zero-downtime rollouts; Recreate only for the single writer of a volume (SQLite)."""
    strategy = deployment["spec"].get("strategy", {})
    rolling = strategy.get("type") == "RollingUpdate"
    if rolling and strategy.get("rollingUpdate", {}).get("maxUnavailable") == 0:
        return []
    claims = any("persistentVolumeClaim" in v for v in pod_spec(deployment).get("volumes", []))
    if strategy.get("type") == "Recreate" and claims:
        return []
    return [
        f"Deployment {name_of(deployment)}: needs strategy RollingUpdate with maxUnavailable 0 "
        "(Recreate only for the single writer of a volume)"
    ]


def _container_problems(where: str, container: Obj) -> list[str]:
    problems = [
        f"{where}: no {probe}"
        for probe in ("readinessProbe", "livenessProbe")
        if probe not in container
    ]
    resources = container.get("resources", {})
    problems += [
        f"{where}: no resources.{part}.{resource}"
        for part in ("requests", "limits")
        for resource in ("cpu", "memory")
        if resource not in resources.get(part, {})
    ]
    if not container.get("securityContext", {}).get("readOnlyRootFilesystem"):
        problems.append(f"{where}: needs securityContext.readOnlyRootFilesystem")
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    if "grpc" in ports:
        for probe in ("readinessProbe", "livenessProbe"):
            if container.get(probe, {}).get("grpc", {}).get("port") != ports["grpc"]:
                problems.append(f"{where}: {probe} must be a gRPC probe on the grpc port")
        if not container.get("readinessProbe", {}).get("grpc", {}).get("service"):
            problems.append(f"{where}: readinessProbe must name the gRPC service")
    return problems


def _shutdown_problems(objs: Sequence[Obj], deployment: Obj) -> list[str]:
    """The pod's grace period outlasts preStop sleep + the service's drain + grace seconds."""
    spec = pod_spec(deployment)
    env = _env(objs, deployment)
    prefix = next((k.removesuffix("_PORT") for k in env if k.endswith("_PORT")), None)
    if prefix is None or not spec.get("containers"):
        return []
    sleep = spec["containers"][0].get("lifecycle", {}).get("preStop", {}).get("sleep", {})
    budget = float(sleep.get("seconds", 0))
    budget += sum(float(env.get(f"{prefix}_{k}", 0)) for k in ("DRAIN_SECONDS", "GRACE_SECONDS"))
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace > budget:
        return []
    return [
        f"Deployment {name_of(deployment)}: terminationGracePeriodSeconds {grace} must exceed "
        f"preStop + drain + grace ({budget:g} s)"
    ]


def deployment_problems(objs: Sequence[Obj]) -> list[str]:
    """Probes, resources, a rendered ServiceAccount, non-root and read-only, rollouts, shutdown."""
    problems: list[str] = []
    accounts = {name_of(a) for a in of_kind(objs, "ServiceAccount")}
    hpas = of_kind(objs, "HorizontalPodAutoscaler")
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in hpas}
    for deployment in of_kind(objs, "Deployment"):
        what = f"Deployment {name_of(deployment)}"
        spec = pod_spec(deployment)
        account = spec.get("serviceAccountName")
        if not account:
            problems.append(f"{what}: no serviceAccountName")
        elif account not in accounts:
            problems.append(f"{what}: its ServiceAccount {account} is not rendered")
        if not spec.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{what}: the pod must set securityContext.runAsNonRoot")
        if name_of(deployment) in scaled and "replicas" in deployment["spec"]:
            problems.append(f"{what}: has `replicas` although an HPA scales it")
        problems += _strategy_problems(deployment)
        problems += _shutdown_problems(objs, deployment)
        for container in spec.get("containers", []):
            problems += _container_problems(f"{what} container {container.get('name')}", container)
    return problems


def service_problems(objs: Sequence[Obj]) -> list[str]:
    problems: list[str] = []
    services = list(of_kind(objs, "Service"))
    for deployment in of_kind(objs, "Deployment"):
        labels = pod_labels(deployment)
        for container in pod_spec(deployment).get("containers", []):
            for port in container.get("ports", []):
                if port.get("name") != "grpc":
                    continue
                exposed = [
                    p
                    for s in services
                    if selects(s["spec"].get("selector", {}), labels)
                    for p in s["spec"].get("ports", [])
                    if p.get("targetPort") in ("grpc", port["containerPort"])
                ]
                if not exposed:
                    problems.append(f"Deployment {name_of(deployment)}: no Service exposes grpc")
                for p in exposed:
                    if p.get("name") != "grpc" or p.get("appProtocol") != "grpc":
                        problems.append(
                            f"Deployment {name_of(deployment)}: its gRPC Service port must be "
                            f"named grpc with appProtocol grpc, not {p}"
                        )
    for service in services:
        for p in service["spec"].get("ports", []):
            if p.get("appProtocol") == "grpc" and p.get("name") != "grpc":
                problems.append(f"Service {name_of(service)}: gRPC port {p} must be named grpc")
    return problems


def istio_problems(objs: Sequence[Obj]) -> list[str]:
    problems: list[str] = []
    policies = [p for p in of_kind(objs, "AuthorizationPolicy")]
    if not any(o for o in objs if "istio.io" in str(o.get("apiVersion"))):
        return problems
    peer = list(of_kind(objs, "PeerAuthentication"))
    if not any(p.get("spec", {}).get("mtls", {}).get("mode") == "STRICT" for p in peer):
        problems.append("Istio is on but no PeerAuthentication sets mtls STRICT")
    methods = grpc_methods()
    for deployment in of_kind(objs, "Deployment"):
        labels = pod_labels(deployment)
        if labels.get("sidecar.istio.io/inject") != "true":
            problems.append(f"Deployment {name_of(deployment)}: no sidecar.istio.io/inject label")
        own = [
            p
            for p in policies
            if selects(p["spec"].get("selector", {}).get("matchLabels", {}), labels)
        ]
        if not any(p["spec"].get("rules") for p in own):
            problems.append(f"Deployment {name_of(deployment)}: no AuthorizationPolicy allows it")
    for policy in policies:
        for rule in policy.get("spec", {}).get("rules", []):
            for to in rule.get("to", []):
                for path in to.get("operation", {}).get("paths", []):
                    if path.startswith("/yoga.") and path not in methods:
                        problems.append(
                            f"AuthorizationPolicy {name_of(policy)}: {path} is no gRPC method"
                        )
    for rule in of_kind(objs, "DestinationRule"):
        mode = rule.get("spec", {}).get("trafficPolicy", {}).get("tls", {}).get("mode")
        if mode != "ISTIO_MUTUAL":
            problems.append(f"DestinationRule {name_of(rule)}: tls mode {mode}, not ISTIO_MUTUAL")
    for service in of_kind(objs, "VirtualService"):
        for route in service.get("spec", {}).get("http", []):
            if route.get("retries", {}).get("attempts") != 0:
                problems.append(
                    f"VirtualService {name_of(service)}: retries.attempts must be 0 "
                    "(the gRPC channel retries; one layer only)"
                )
    return problems


def topic_problems(objs: Sequence[Obj]) -> list[str]:
    topics = list(of_kind(objs, "KafkaTopic"))
    if not topics:
        return []
    maps = [m.get("data", {}) for m in of_kind(objs, "ConfigMap")]
    prefix = next((m["YOGA_KAFKA_PREFIX"] for m in maps if "YOGA_KAFKA_PREFIX" in m), "")
    rendered = sorted(t["spec"].get("topicName", name_of(t)) for t in topics)
    expected = sorted(kafka_topics(prefix))
    if rendered != expected:
        return [f"KafkaTopics {rendered} differ from yoga_common/topics.py {expected}"]
    return []


# A PEM private key (PKCS#1, PKCS#8, EC, encrypted) or a field meant to hold one.
PRIVATE_KEY_TEXT = "PRIVATE KEY"
PRIVATE_KEY_NAME = re.compile(r"private[-_.]?key|jwt-private", re.IGNORECASE)


def _strings(node: Any, where: str = "") -> Iterator[tuple[str, str, bool]]:
    """(where, text, names) of every mapping key and string value in a rendered object; names:
    the text is a key, or the value of a `name` (an env variable, a volume, a Secret key)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{where}/{key}", str(key), True
            if key == "name" and isinstance(value, str):
                yield f"{where}/{key}", value, True
            else:
                yield from _strings(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _strings(item, f"{where}/{i}")
    elif isinstance(node, str):
        yield where, node, False


def _decoded(obj: Obj) -> Iterator[tuple[str, str, bool]]:
    """A Secret's `data` and a ConfigMap's `binaryData`, base64-decoded."""
    for field in ("data", "binaryData") if obj.get("kind") == "Secret" else ("binaryData",):
        for key, value in (obj.get(field) or {}).items():
            try:
                raw = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                continue
            yield f"/{field}/{key}", raw.decode("latin-1"), False


def private_key_problems(objs: Sequence[Obj]) -> list[str]:
    """No rendered object holds a private key, or names a place for one (a key, a file, a
    variable): tokens are signed by the issuer, services that call others get a client secret."""
    problems: list[str] = []
    for obj in objs:
        what = f"{obj.get('kind')} {name_of(obj)}"
        for where, text, names in [*_strings(obj), *_decoded(obj)]:
            if PRIVATE_KEY_TEXT in text:
                problems.append(f"{what} {where}: holds a private key ({PRIVATE_KEY_TEXT})")
            elif names and PRIVATE_KEY_NAME.search(text):
                problems.append(f"{what} {where}: {text} names a private key")
    return problems


def project_problems(objs: Sequence[Obj]) -> list[str]:
    checks: list[Callable[[Sequence[Obj]], list[str]]] = [
        deployment_problems,
        service_problems,
        istio_problems,
        allow_list_problems,
        topic_problems,
        gateway_problems,
        private_key_problems,
    ]
    return [problem for check in checks for problem in check(objs)]
