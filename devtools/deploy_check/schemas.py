"""Every rendered object against a schema: the strict Kubernetes JSON schemas of the
kubernetes-validate wheel, and each custom resource (Istio, Strimzi, Prometheus Operator) against
the openAPIV3Schema of its CRD in ../shared/k8s-crds, closed (a field the CRD does not name is an
error: the API server would drop it silently)."""

from __future__ import annotations

import importlib.resources
import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from devtools.deploy_check.helm import KUBE_VERSION
from devtools.deploy_check.objects import Obj, describe
from devtools.deploy_check.tools import ROOT, CheckError

CRD_GROUPS = ("istio.io", "strimzi.io", "monitoring.coreos.com")


def crd_dir() -> Path:
    """../shared/k8s-crds beside the repository (a developer's checkout, CI's clone), else
    beside the local repository this one was cloned from (a clone in a temporary folder)."""
    if os.environ.get("YOGA_K8S_CRDS"):
        return Path(os.environ["YOGA_K8S_CRDS"])
    beside = ROOT.parent / "shared" / "k8s-crds"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        return Path(origin).resolve().parent / "shared" / "k8s-crds"
    return beside


CRD_DIR = crd_dir()


def _errors(validator: jsonschema.protocols.Validator, obj: Obj, what: str) -> list[str]:
    problems = []
    for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in err.absolute_path) or "(top)"
        problems.append(f"{what}: {where}: {err.message}")
    return problems


class KubeSchemas:
    """The strict JSON schemas of kubernetes-validate for one Kubernetes version."""

    def __init__(self, version: str = KUBE_VERSION) -> None:
        folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
        self.folder = folder / f"v{version}-local-strict"
        if not self.folder.is_dir():
            raise CheckError(f"kubernetes-validate has no schemas for Kubernetes {version}")
        definitions = json.loads((self.folder / "_definitions.json").read_text())
        self.registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator | None] = {}

    def validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        key = (api_version, kind)
        if key not in self._validators:
            group, _, version = api_version.rpartition("/")
            prefix = f"{group.split('.')[0]}-{version}" if group else version
            path = self.folder / f"{kind.lower()}-{prefix}.json"
            schema = json.loads(path.read_text()) if path.is_file() else None
            self._validators[key] = (
                jsonschema.Draft202012Validator(schema, registry=self.registry) if schema else None
            )
        return self._validators[key]

    def object_meta(self) -> jsonschema.protocols.Validator:
        ref = "https://kubernetes.io/api/_definitions.json#/$defs/"
        schema = {"$ref": ref + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
        return jsonschema.Draft202012Validator(schema, registry=self.registry)

    def problems(self, obj: Obj) -> list[str]:
        validator = self.validator(obj.get("apiVersion", ""), obj.get("kind", ""))
        if validator is None:
            return [
                f"{describe(obj)}: no Kubernetes {KUBE_VERSION} schema for "
                f"{obj.get('apiVersion')} {obj.get('kind')}"
            ]
        return _errors(validator, obj, describe(obj))


def close_schema(schema: Any) -> Any:
    """A copy of a CRD schema in which every object that lists its properties accepts no other
    (unless it says `x-kubernetes-preserve-unknown-fields` or has additionalProperties)."""
    if isinstance(schema, list):
        return [close_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: close_schema(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        closed["additionalProperties"] = False
    if "properties" in schema:
        closed["properties"] = {k: close_schema(v) for k, v in schema["properties"].items()}
    return closed


class CrdSchemas:
    """The openAPIV3Schema of each served version of each CRD in a folder, closed."""

    def __init__(self, folder: Path, kube: KubeSchemas) -> None:
        if not folder.is_dir():
            raise CheckError(f"no CRDs at {folder} (../shared/k8s-crds beside the repository)")
        self.folder = folder
        self.kube = kube
        self.schemas: dict[tuple[str, str], Any] = {}
        for path in sorted(folder.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec["versions"]:
                    if version.get("served") and "schema" in version:
                        api_version = f"{spec['group']}/{version['name']}"
                        key = (api_version, spec["names"]["kind"])
                        self.schemas[key] = version["schema"]["openAPIV3Schema"]
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        self._meta = kube.object_meta()

    def validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        key = (api_version, kind)
        if key not in self.schemas:
            return None
        if key not in self._validators:
            schema = close_schema(self.schemas[key])
            # apiVersion, kind and metadata are the API server's (Istio's CRDs do not list them);
            # metadata is checked against Kubernetes' ObjectMeta below.
            schema["properties"].update(
                apiVersion={"const": api_version},
                kind={"const": kind},
                metadata={"type": "object"},
            )
            self._validators[key] = jsonschema.Draft4Validator(schema)
        return self._validators[key]

    def problems(self, obj: Obj) -> list[str]:
        validator = self.validator(obj.get("apiVersion", ""), obj.get("kind", ""))
        if validator is None:
            return [
                f"{describe(obj)}: no CRD in {self.folder} serves "
                f"{obj.get('apiVersion')} {obj.get('kind')}"
            ]
        problems = _errors(validator, obj, describe(obj))
        problems += _errors(self._meta, obj.get("metadata", {}), f"{describe(obj)} metadata")
        return problems


def is_custom(obj: Obj) -> bool:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return any(group == g or group.endswith("." + g) for g in CRD_GROUPS)


def schema_problems(objs: Iterable[Obj], kube: KubeSchemas, crds: CrdSchemas) -> list[str]:
    problems: list[str] = []
    for obj in objs:
        problems += crds.problems(obj) if is_custom(obj) else kube.problems(obj)
    return problems
