"""The chart as Helm sees it: lint, render (`helm template`) and the cases deploy-check renders
(the defaults, then each helm/yoga-studio/ci/*.yaml), its values and their schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devtools.deploy_check.objects import Obj, load_yaml_documents
from devtools.deploy_check.tools import ROOT, CheckError, helm_binary, run

CHART = ROOT / "helm" / "yoga-studio"
CI_VALUES = CHART / "ci"
# What every install must give and the chart cannot default (the token issuer, the client
# secret of the services that call others): under every case deploy-check renders.
REQUIRED_VALUES = Path(__file__).resolve().parent / "required-values.yaml"
# The newest Kubernetes whose schemas kubernetes-validate 1.37.0 bundles; Helm renders for it too.
KUBE_VERSION = "1.37.0"
NAMESPACE = "yoga"


@dataclass(frozen=True)
class Case:
    """One way of rendering the chart: value files plus `--set-file` values."""

    name: str
    values: tuple[Path, ...] = ()
    set_files: Mapping[str, Path] = field(default_factory=dict)
    sets: tuple[str, ...] = ()

    def args(self) -> list[str]:
        out: list[str] = []
        for path in self.values:
            out += ["--values", str(path)]
        for key, path in self.set_files.items():
            out += ["--set-file", f"{key}={path}"]
        for item in self.sets:
            out += ["--set", item]
        return out


def helm_lint(case: Case, chart: Path = CHART) -> list[str]:
    done = run(
        [helm_binary(), "lint", "--strict", "--kube-version", KUBE_VERSION, chart, *case.args()]
    )
    if done.returncode == 0:
        return []
    output = (done.stdout + done.stderr).splitlines()
    lines = [ln for ln in output if "[ERROR]" in ln or "[WARNING]" in ln or ln.startswith("Error")]
    return [f"helm lint --strict ({case.name}): {ln.strip()}" for ln in lines] or [
        f"helm lint --strict ({case.name}) failed:\n{done.stdout}{done.stderr}"
    ]


def helm_template(case: Case, chart: Path = CHART, namespace: str = NAMESPACE) -> list[Obj]:
    """The rendered objects (tests included); raises CheckError with helm's message."""
    done = run(
        [
            helm_binary(),
            "template",
            "yoga",
            chart,
            "--namespace",
            namespace,
            "--kube-version",
            KUBE_VERSION,
            *case.args(),
        ]
    )
    if done.returncode != 0:
        raise CheckError(f"helm template ({case.name}) failed:\n{done.stderr.strip()}")
    try:
        return load_yaml_documents(done.stdout)
    except yaml.YAMLError as err:
        raise CheckError(f"helm template ({case.name}) rendered invalid YAML: {err}") from err


def cases() -> list[Case]:
    """The defaults with the values every install must give, then each ci/*.yaml over them."""
    found = [Case("defaults", (REQUIRED_VALUES,))]
    for path in sorted(CI_VALUES.glob("*.yaml")):
        found.append(Case(f"ci/{path.name}", (REQUIRED_VALUES, path)))
    return found


# What the render must say when a required value is missing (helm's `fail` in _helpers.tpl).
REQUIRED_MESSAGES = {
    "auth.issuer": "auth.issuer is required",
    "auth.clientSecret": "give its secret, auth.existingSecret",
}


def required_value_problems(chart: Path = CHART) -> list[str]:
    """The chart's defaults alone do not render: without an issuer, or without the services'
    client secret, helm fails and names the value (never an install that refuses every token)."""
    problems: list[str] = []
    issuer = yaml.safe_load(REQUIRED_VALUES.read_text())["auth"]["issuer"]
    broken = {
        "auth.issuer": Case("no issuer"),
        "auth.clientSecret": Case("no client secret", sets=(f"auth.issuer={issuer}",)),
    }
    for key, case in broken.items():
        try:
            helm_template(case, chart)
        except CheckError as err:
            if REQUIRED_MESSAGES[key] not in str(err):
                problems.append(f"helm template without {key} fails, but not naming it: {err}")
            continue
        problems.append(f"helm template without {key} renders; it must fail and name it")
    return problems


def _merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of value files: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return override


def chart_values(case: Case | None = None, chart: Path = CHART) -> dict[str, Any]:
    """values.yaml with the case's value files over it (its `--set`s are not applied)."""
    values: dict[str, Any] = yaml.safe_load((chart / "values.yaml").read_text())
    for path in case.values if case else ():
        values = _merge(values, yaml.safe_load(path.read_text()) or {})
    return values


def values_schema_problems(path: Path = CHART / "values.schema.json") -> list[str]:
    """Every object in values.schema.json rejects keys it does not name; a free-form map (env
    settings, topic config) must at least constrain its keys with propertyNames."""
    problems: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")
            return
        if not isinstance(node, dict):
            return
        if node.get("type") == "object" or "properties" in node:
            extra = node.get("additionalProperties", True)
            if extra is not False and not (isinstance(extra, dict) and "propertyNames" in node):
                problems.append(
                    f"values.schema.json {where or '/'}: needs additionalProperties: false"
                )
        for key, value in node.items():
            walk(value, f"{where}/{key}")

    walk(json.loads(path.read_text()), "")
    return problems
