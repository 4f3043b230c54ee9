"""deploy-check holds the chart's copies of the system's wiring against yoga_common/system.py:
values.yaml's ports, prefixes and services, and the AuthorizationPolicies' allow lists against
each servicer's role table and the calls one service makes to another. Each test breaks one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from devtools.deploy_check import helm, rules, wiring
from yoga_common import system

Obj = dict[str, Any]
YOGACLASS = "/yoga.yogaclass.v1.YogaClassService"
PRINCIPAL = "cluster.local/ns/yoga/sa/{}"


def policy(objs: list[Obj], name: str) -> Obj:
    return next(
        o for o in objs if o["kind"] == "AuthorizationPolicy" and o["metadata"]["name"] == name
    )


def rule_for(objs: list[Obj], name: str, method: str) -> Obj:
    """The rule of a service's policy that lists `method`."""
    path = f"/{system.SERVICES[name].grpc_service}/{method}"
    return next(
        r
        for r in policy(objs, name)["spec"]["rules"]
        if any(path in to["operation"].get("paths", []) for to in r.get("to", []))
    )


def principals(rule: Obj) -> list[str]:
    found: list[str] = rule["from"][0]["source"]["principals"]
    return found


def matching(problems: list[str], *parts: str) -> list[str]:
    return [p for p in problems if all(part in p for part in parts)]


# -- values.yaml against the registry --------------------------------------------------------------


def test_the_charts_values_match_the_registry() -> None:
    assert wiring.values_problems(helm.chart_values()) == []


def test_a_port_prefix_call_or_service_that_differs_from_the_registry_is_found() -> None:
    values = copy.deepcopy(helm.chart_values())
    values["services"]["yogaclass"]["port"] = 50061
    values["services"]["mypage"]["envPrefix"] = "MY_PAGE"
    values["services"]["notification"]["grpcService"] = "yoga.notification.v2.NotificationService"
    values["services"]["gateway"]["port"] = 8080
    # It calls no other service: it must not get the client secret.
    values["services"]["notification"]["callsServices"] = True
    values["services"]["billing"] = values["services"]["mypage"]
    del values["services"]["reservation"]
    problems = wiring.values_problems(values)
    assert matching(problems, "services.yogaclass.port is 50061", "says 50051")
    assert matching(problems, "services.mypage.envPrefix", "'MYPAGE'")
    assert matching(problems, "services.notification.grpcService", "v1")
    assert matching(problems, "services.gateway.port is 8080", "8088")
    assert matching(problems, "services.notification.callsServices is True", "says False")
    assert matching(problems, "services.billing: no such service")
    assert matching(problems, "no reservation")


# -- allow lists against role tables and calls -----------------------------------------------------


def test_the_charts_allow_lists_match_role_tables_and_calls(rendered: list[Obj]) -> None:
    assert wiring.allow_list_problems(rendered) == []


def test_a_method_the_role_table_does_not_have_is_found(objs: list[Obj]) -> None:
    rule = rule_for(objs, "yogaclass", "GetClass")
    rule["to"][0]["operation"]["paths"].append(f"{YOGACLASS}/ArchiveClass")
    assert matching(
        rules.project_problems(objs),
        "AuthorizationPolicy yogaclass",
        "ArchiveClass",
        "yogaclass_svc.servicer:ROLES does not list",
    )


def test_a_public_method_the_gateway_may_not_call_is_found(objs: list[Obj]) -> None:
    paths = rule_for(objs, "reservation", "CancelReservation")["to"][0]["operation"]["paths"]
    paths.remove("/yoga.reservation.v1.ReservationService/CancelReservation")
    assert matching(
        wiring.allow_list_problems(objs),
        "the gateway may not call /yoga.reservation.v1.ReservationService/CancelReservation",
        "a public method",
    )


def test_an_internal_method_open_to_the_gateway_is_found(objs: list[Obj]) -> None:
    principals(rule_for(objs, "yogaclass", "ReserveSeat")).append(PRINCIPAL.format("gateway"))
    problems = wiring.allow_list_problems(objs)
    assert matching(problems, f"the gateway may call {YOGACLASS}/ReserveSeat", "['service']")
    assert matching(problems, f"the gateway may call {YOGACLASS}/ReleaseSeat")


def test_an_internal_method_open_to_a_caller_the_registry_does_not_name_is_found(
    objs: list[Obj],
) -> None:
    principals(rule_for(objs, "yogaclass", "ReleaseSeat")).append(PRINCIPAL.format("mypage"))
    assert matching(
        wiring.allow_list_problems(objs),
        f"mypage may call {YOGACLASS}/ReleaseSeat",
        "does not name it among mypage's calls",
    )


def test_a_call_of_the_registry_the_chart_does_not_allow_is_found(objs: list[Obj]) -> None:
    yogaclass = policy(objs, "yogaclass")
    yogaclass["spec"]["rules"].remove(rule_for(objs, "yogaclass", "ReserveSeat"))
    problems = wiring.allow_list_problems(objs)
    assert matching(problems, f"reservation calls {YOGACLASS}/ReserveSeat", "but may not")
    assert matching(problems, f"reservation calls {YOGACLASS}/ReleaseSeat", "but may not")


def test_a_method_of_another_service_in_a_policy_is_found(objs: list[Obj]) -> None:
    rule = rule_for(objs, "mypage", "GetMyPage")
    rule["to"][0]["operation"]["paths"].append(f"{YOGACLASS}/GetClass")
    assert matching(
        wiring.allow_list_problems(objs),
        "AuthorizationPolicy mypage",
        f"allows {YOGACLASS}/GetClass, a method of yogaclass",
    )


def test_values_that_open_an_internal_method_fail_through_helm(
    tmp_path: Path,
) -> None:
    """The whole way: an allow list in a values file, rendered by helm, caught."""
    values = tmp_path / "open.yaml"
    values.write_text(
        "services:\n  yogaclass:\n    allow:\n"
        "      - from: [gateway]\n"
        "        methods: [CreateClass, GetClass, ListClasses, UpdateClass, DeleteClass,\n"
        "                  GetStudioSettings, UpdateStudioSettings, GetMemberStanding,\n"
        "                  LiftBlock, CreateSeries, GetSeries, ListSeries, UpdateSeries,\n"
        "                  CancelSeries]\n"
        "      - from: [reservation]\n"
        "        methods: [GetStudioSettings]\n"
        "      - from: [reservation, notification]\n"
        "        methods: [ReserveSeat, ReserveSeats, ReleaseSeat]\n"
    )
    objs = helm.helm_template(helm.Case("open", (helm.REQUIRED_VALUES, values)))
    problems = wiring.allow_list_problems(objs)
    assert matching(problems, f"notification may call {YOGACLASS}/ReserveSeat")
    assert matching(problems, f"notification may call {YOGACLASS}/ReserveSeats")
    assert matching(problems, f"notification may call {YOGACLASS}/ReleaseSeat")
    assert len(problems) == 3
