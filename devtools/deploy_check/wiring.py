"""The chart against yoga_common/system.py, the registry of the system's wiring. The chart cannot
import Python, so it holds copies: each service's port, settings prefix, gRPC service and
module in values.yaml, whether it calls other services (and so gets the client secret), and
the AuthorizationPolicies' allow lists (who may call which method).
They are held here against the registry, each servicer's role table (`ROLES`) and the calls one
service makes to another (`Service.calls`).

The metrics port is not compared: the chart gives every pod the same one (`monitoring.port`,
each pod has its own address), the registry one per service so that they can share a machine."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from devtools.deploy_check.objects import Obj, component_of, name_of, of_kind
from yoga_common import system
from yoga_common.principal import ADMIN, MEMBER

GATEWAY = "gateway"
# The web app's static server: a workload of the chart, no service of the registry.
WEB = "web"
# Roles a person's token carries: a method open to one of them is public, reached through the
# gateway; a method open to `service` only is internal.
PEOPLE = frozenset({ADMIN, MEMBER})


@functools.cache
def role_table(name: str) -> Mapping[str, frozenset[str]]:
    """Method name -> roles. The servicers key their tables by full path
    (`/yoga.yogaclass.v1.YogaClassService/GetClass`); the chart names methods."""
    return {path.rpartition("/")[2]: roles for path, roles in system.SERVICES[name].roles().items()}


def values_problems(values: Mapping[str, Any]) -> list[str]:
    """values.yaml says what the registry says about each service and the gateway."""
    problems: list[str] = []
    services = values.get("services", {})
    for name, service in system.SERVICES.items():
        entry = services.get(name)
        if entry is None:
            problems.append(f"values.yaml services: no {name} (yoga_common/system.py has it)")
            continue
        expected = {
            "port": service.port,
            "envPrefix": service.env_prefix.removesuffix("_"),
            "grpcService": service.grpc_service,
            "module": service.package,
            # Only a service that calls others signs in as the client: it alone gets the secret.
            "callsServices": bool(service.calls),
        }
        for key, value in expected.items():
            if entry.get(key) != value:
                problems.append(
                    f"values.yaml services.{name}.{key} is {entry.get(key)!r}, "
                    f"yoga_common/system.py says {value!r}"
                )
    for name in services:
        if name not in (GATEWAY, WEB) and name not in system.SERVICES:
            problems.append(
                f"values.yaml services.{name}: no such service in yoga_common/system.py"
            )
    port = services.get(GATEWAY, {}).get("port")
    if port != system.GATEWAY_PORT:
        problems.append(
            f"values.yaml services.gateway.port is {port!r}, "
            f"yoga_common/system.py says {system.GATEWAY_PORT}"
        )
    return problems


def _workloads(objs: Sequence[Obj]) -> dict[str, str]:
    """Service account name -> the workload it belongs to."""
    return {name_of(a): component_of(a) for a in of_kind(objs, "ServiceAccount")}


def _grants(objs: Sequence[Obj]) -> tuple[dict[tuple[str, str, str], str], list[str]]:
    """(caller, service, method) -> the AuthorizationPolicy granting it, from every rule that
    names both principals and gRPC paths of the project's services."""
    accounts = _workloads(objs)
    by_grpc = {s.grpc_service: s for s in system.SERVICES.values()}
    grants: dict[tuple[str, str, str], str] = {}
    problems: list[str] = []
    for policy in of_kind(objs, "AuthorizationPolicy"):
        where = f"AuthorizationPolicy {name_of(policy)}"
        owner = component_of(policy)
        for rule in policy.get("spec", {}).get("rules", []):
            principals = [
                principal
                for source in rule.get("from", [])
                for principal in source.get("source", {}).get("principals", [])
            ]
            for to in rule.get("to", []):
                for path in to.get("operation", {}).get("paths", []):
                    grpc_service, _, method = path.strip("/").partition("/")
                    service = by_grpc.get(grpc_service)
                    if service is None:
                        continue  # health, metrics: open by design
                    if service.name != owner:
                        problems.append(f"{where}: allows {path}, a method of {service.name}")
                    if method not in role_table(service.name):
                        problems.append(
                            f"{where}: allows {path}, which the role table "
                            f"{service.roles_source} does not list"
                        )
                        continue
                    for principal in principals:
                        account = principal.rpartition("/sa/")[2]
                        caller = accounts.get(account)
                        if caller is None:
                            problems.append(f"{where}: {principal} is no rendered ServiceAccount")
                            continue
                        grants[(caller, service.name, method)] = where
    return grants, problems


def allow_list_problems(objs: Sequence[Obj]) -> list[str]:
    """The AuthorizationPolicies' allow lists agree with the role tables and the calls:
    - every method they allow is in its service's role table;
    - the gateway may call exactly the public methods (open to admin or member): a public
      method it may not call is unreachable, an internal one it may call is exposed;
    - a service may call an internal method only if yoga_common/system.py says it calls it, and
      may call every method it says it calls (else the saga breaks in the mesh only)."""
    if not any(of_kind(objs, "AuthorizationPolicy")):
        return []  # no mesh
    grants, problems = _grants(objs)
    for (caller, name, method), where in sorted(grants.items()):
        path = f"/{system.SERVICES[name].grpc_service}/{method}"
        roles = role_table(name)[method]
        if caller == GATEWAY:
            if not roles & PEOPLE:
                problems.append(
                    f"{where}: the gateway may call {path}, open only to {sorted(roles)} "
                    "(an internal method)"
                )
        elif caller not in system.SERVICES or method not in system.SERVICES[caller].calls.get(
            name, ()
        ):
            problems.append(
                f"{where}: {caller} may call {path}, but yoga_common/system.py "
                f"does not name it among {caller}'s calls"
            )
    for name in system.SERVICES:
        for method, roles in sorted(role_table(name).items()):
            path = f"/{system.SERVICES[name].grpc_service}/{method}"
            if roles & PEOPLE and (GATEWAY, name, method) not in grants:
                problems.append(
                    f"AuthorizationPolicy {name}: the gateway may not call {path}, "
                    f"a public method (roles {sorted(roles)})"
                )
    for caller, service in system.SERVICES.items():
        for name, methods in service.calls.items():
            for method in methods:
                if (caller, name, method) not in grants:
                    path = f"/{system.SERVICES[name].grpc_service}/{method}"
                    problems.append(
                        f"AuthorizationPolicy {name}: {caller} calls {path} "
                        "(yoga_common/system.py) but may not"
                    )
    return problems
