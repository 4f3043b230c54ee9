"""`python -m devtools.deploy_check`: every step, a line each, then the problems."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable

from devtools import gateway_config
from devtools.deploy_check import gateway, helm, rules, schemas, web, wiring
from devtools.deploy_check.objects import Obj
from devtools.deploy_check.tools import CheckError, hadolint_problems, helm_binary


def check_case(
    case: helm.Case, kube: schemas.KubeSchemas, crds: schemas.CrdSchemas
) -> tuple[list[Obj], list[str]]:
    problems = helm.helm_lint(case)
    try:
        objs = helm.helm_template(case)
    except CheckError as err:
        return [], [*problems, str(err)]
    problems += schemas.schema_problems(objs, kube, crds)
    problems += rules.project_problems(objs)
    problems += gateway.parity_problems(objs, helm.chart_values(case), helm.NAMESPACE)
    problems += gateway.envoy_problems(objs, case.name)
    problems += web.parity_problems(objs, helm.chart_values(case))
    return objs, [f"[{case.name}] {p}" for p in problems]


def count_by_kind(objs: Iterable[Obj]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in objs:
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    return dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    doc = sys.modules["devtools.deploy_check"].__doc__ or ""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.deploy_check", description=doc.splitlines()[0]
    )
    parser.add_argument("--counts", action="store_true", help="print objects by kind per case")
    args = parser.parse_args(argv)
    started = time.monotonic()
    problems: list[str] = []

    def step(title: str, found: list[str]) -> None:
        print(f"{'ok  ' if not found else 'FAIL'} {title} ({time.monotonic() - started:.1f} s)")
        problems.extend(found)

    try:
        step("hadolint Dockerfile", hadolint_problems())
        step("envoy/envoy.yaml.tmpl matches protos/", gateway_config.template_problems())
        step("the chart's gateway and web files link to envoy/ and nginx/", gateway.link_problems())
        step("values.schema.json is closed", helm.values_schema_problems())
        step(
            "values.yaml matches yoga_common/system.py", wiring.values_problems(helm.chart_values())
        )
        print(f"     helm: {helm_binary()}")
        kube = schemas.KubeSchemas()
        crds = schemas.CrdSchemas(schemas.CRD_DIR, kube)
        step(
            "the chart refuses to render without an issuer or client secret",
            helm.required_value_problems(),
        )
        for case in helm.cases():
            objs, found = check_case(case, kube, crds)
            step(f"chart {case.name}: {len(objs)} objects", found)
            if args.counts:
                print("     " + json.dumps(count_by_kind(objs)))
    except CheckError as err:
        problems.append(str(err))
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    took = time.monotonic() - started
    if problems:
        print(f"deploy-check: {len(problems)} problem(s) in {took:.1f} s", file=sys.stderr)
        return 1
    print(f"deploy-check: all good in {took:.1f} s")
    return 0
