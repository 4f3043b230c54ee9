"""What the Helm chart would run, read from `helm template` output, for podman on one machine:
each service's container (image, args, the environment its ConfigMap and Secret give it, its
security context, its volumes and limits, its replica count) and the gateway's Envoy
configuration. Nothing is written again by hand: a setting the chart changes reaches the
container test as it reaches a cluster. Only addresses are overridden, because on one host
with two replicas of each service they cannot be the cluster's (see `per_replica`)."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devtools.containers import ContainerSpec
from devtools.deploy_check.helm import Case, helm_template
from devtools.deploy_check.objects import Obj, of_kind, pod_spec
from yoga_common import system


def render(values: Mapping[str, Any]) -> list[Obj]:
    """`helm template` of the chart with `values` (a values file of its own, as an install
    gives one) over values.yaml."""
    with tempfile.TemporaryDirectory(prefix="yoga-chart-") as folder:
        path = Path(folder) / "values.yaml"
        path.touch(mode=0o600)  # it may hold the services' client secret
        path.write_text(yaml.safe_dump(dict(values)))
        return helm_template(Case("container test", (path,)))


def _named(objs: Sequence[Obj], kind: str, name: str) -> Obj:
    for obj in of_kind(objs, kind):
        if obj["metadata"]["name"] == name:
            return obj
    raise KeyError(f"the chart rendered no {kind} {name}")


@dataclass(frozen=True)
class Workload:
    """One service's Deployment, resolved: its one container and what podman needs of it."""

    name: str  # yogaclass, reservation, ...
    image: str
    args: tuple[str, ...]
    env: dict[str, str]
    replicas: int
    readiness_service: str  # the gRPC health service its readiness probe asks about
    port: int  # its container port named grpc
    security: dict[str, Any]  # the container's securityContext over the pod's
    tmpfs: dict[str, str]  # emptyDir mounts: path -> podman --tmpfs options
    claims: dict[str, str]  # PersistentVolumeClaim mounts: path -> the claim's name
    limits: dict[str, str]
    grace_seconds: int

    def spec(
        self,
        name: str,
        image: str,
        env: Mapping[str, str],
        volumes: Mapping[str, Path] | None = None,
    ) -> ContainerSpec:
        """A container of it named `name`, running `image` (the id of the image the chart
        names) with `env` (its own, with a replica's overrides) and each claim it mounts
        bound to a folder of this machine (`volumes`: claim -> folder)."""
        drop = tuple(self.security.get("capabilities", {}).get("drop", ()))
        return ContainerSpec(
            name=name,
            image=image,
            args=self.args,
            env=env,
            user=f"{self.security['runAsUser']}:{self.security['runAsGroup']}",
            read_only=bool(self.security.get("readOnlyRootFilesystem")),
            cap_drop=drop,
            no_new_privileges=self.security.get("allowPrivilegeEscalation") is False,
            tmpfs=self.tmpfs,
            binds=self.mounts(volumes or {}),
            memory=_memory(self.limits.get("memory", "")),
            cpus=_cpus(self.limits.get("cpu", "")),
            stop_timeout=self.grace_seconds,
        )

    def mounts(self, volumes: Mapping[str, Path]) -> dict[str, str]:
        """Mount path -> the folder bound there, for each claim it mounts."""
        missing = set(self.claims.values()) - set(volumes)
        if missing:
            raise ValueError(f"{self.name} mounts claims without a folder: {sorted(missing)}")
        return {path: str(volumes[claim]) for path, claim in self.claims.items()}


def host_url(url: str, mounts: Mapping[str, str]) -> str:
    """A SQLite URL the container opens (sqlite:////data/x.db) as this machine opens the same
    file (the folder bound at /data)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path = url[len(prefix) :]
    for mount, folder in mounts.items():
        if path.startswith(mount.rstrip("/") + "/"):
            return prefix + folder + path[len(mount.rstrip("/")) :]
    raise ValueError(f"{url} is on no volume: the container's root is read-only")


def _memory(quantity: str) -> str:
    """A Kubernetes memory quantity (512Mi) as podman's --memory (512m: podman's m is MiB)."""
    for suffix, unit in (("Ki", "k"), ("Mi", "m"), ("Gi", "g")):
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + unit
    return quantity


def _cpus(quantity: str) -> str:
    """A Kubernetes CPU quantity (1, 500m) as podman's --cpus (1, 0.5)."""
    if quantity.endswith("m"):
        return f"{int(quantity[:-1]) / 1000:g}"
    return quantity


def _env(objs: Sequence[Obj], container: Obj) -> dict[str, str]:
    """The container's environment as the kubelet builds it: each envFrom ConfigMap, then its
    own `env` (values, and keys of Secrets), later entries winning."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", ()):
        ref = source["configMapRef"]["name"]
        env.update({k: str(v) for k, v in _named(objs, "ConfigMap", ref)["data"].items()})
    for item in container.get("env", ()):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        secret = _named(objs, "Secret", ref["name"])
        if ref["key"] in secret.get("stringData", {}):
            env[item["name"]] = str(secret["stringData"][ref["key"]])
        else:
            env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    return env


def _volumes(pod: Obj, container: Obj) -> tuple[dict[str, str], dict[str, str]]:
    """The container's emptyDir mounts (path -> tmpfs options) and its claims (path -> name)."""
    volumes = {v["name"]: v for v in pod.get("volumes", ())}
    mounts: dict[str, str] = {}
    claims: dict[str, str] = {}
    for mount in container.get("volumeMounts", ()):
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume:
            claims[mount["mountPath"]] = volume["persistentVolumeClaim"]["claimName"]
            continue
        if "emptyDir" not in volume:
            raise ValueError(f"volume {mount['name']} is neither an emptyDir nor a claim")
        size = _memory(str(volume["emptyDir"].get("sizeLimit", "")))
        # Writable by the pod's user (fsGroup), like an emptyDir; nothing runs from it.
        mounts[mount["mountPath"]] = ",".join(
            filter(None, ["rw", "noexec", "nosuid", "nodev", f"size={size}" if size else ""])
        )
    return mounts, claims


def _workload(objs: Sequence[Obj], name: str, owner: Obj, replicas: int) -> Workload:
    """The one container of `owner`'s pod template (a Deployment's, a Job's)."""
    pod = pod_spec(owner)
    (container,) = pod["containers"]
    grpc_ports = [p["containerPort"] for p in container.get("ports", ()) if p["name"] == "grpc"]
    readiness = container.get("readinessProbe", {}).get("grpc", {})
    tmpfs, claims = _volumes(pod, container)
    return Workload(
        name=name,
        image=container["image"],
        args=tuple(container.get("args", ())),
        env=_env(objs, container),
        replicas=replicas,
        readiness_service=readiness.get("service", ""),
        port=int(grpc_ports[0]) if grpc_ports else 0,
        security={**pod.get("securityContext", {}), **container.get("securityContext", {})},
        tmpfs=tmpfs,
        claims=claims,
        limits={k: str(v) for k, v in container.get("resources", {}).get("limits", {}).items()},
        grace_seconds=int(pod.get("terminationGracePeriodSeconds", 30)),
    )


def workloads(objs: Sequence[Obj]) -> dict[str, Workload]:
    """The four services' Deployments, by name, with their HPA's minReplicas (the fewest
    replicas the chart runs) or else the Deployment's replicas."""
    min_replicas = {
        hpa["spec"]["scaleTargetRef"]["name"]: int(hpa["spec"]["minReplicas"])
        for hpa in of_kind(objs, "HorizontalPodAutoscaler")
    }
    found: dict[str, Workload] = {}
    for name in system.SERVICES:
        deployment = _named(objs, "Deployment", name)
        replicas = min_replicas.get(name, int(deployment["spec"].get("replicas", 1)))
        found[name] = _workload(objs, name, deployment, replicas)
    return found


def workload_of_job(objs: Sequence[Obj], name: str) -> Workload:
    """A Job of the chart (the topic Job `kafka-topics`, with kafka.topics.job.enabled)."""
    return _workload(objs, name, _named(objs, "Job", name), 1)


def per_replica(
    workload: Workload,
    port: int,
    metrics_port: int,
    peers: Mapping[str, Sequence[str]],
) -> dict[str, str]:
    """One replica's environment: the chart's, with the addresses that differ when every
    replica shares this machine's network: its gRPC and metrics ports (each replica its own,
    where a pod has its own network), on 127.0.0.1 rather than every interface of a shared
    machine, and each service it calls at the addresses of that service's replicas (`peers`:
    name -> host:port of each; gRPC's `ipv4:` target takes a list) instead of a Service name."""
    prefix = system.service(workload.name).env_prefix
    env = dict(workload.env)
    env[f"{prefix}HOST"] = "127.0.0.1"
    env[f"{prefix}PORT"] = str(port)
    env[f"{prefix}METRICS_PORT"] = str(metrics_port)
    for callee in system.service(workload.name).calls:
        key = f"{prefix}{callee.upper()}_TARGET"
        if key not in env:
            raise KeyError(f"the chart gives {workload.name} no {key}")
        env[key] = "ipv4:" + ",".join(peers[callee])
    return env


def gateway_config(
    objs: Sequence[Obj],
    folder: Path,
    listen_port: int,
    health_port: int,
    endpoints: Mapping[str, Sequence[tuple[str, int]]],
    health_services: Mapping[str, str],
    check_interval: float = 0.5,
) -> Path:
    """The gateway's configuration as the chart renders it (ConfigMap gateway-config, its
    envoy.yaml and the descriptor set beside it), for an Envoy on this machine: the listeners
    on 127.0.0.1 and free ports, the admin on a free port, the descriptor where it is written
    here, each service's cluster with one endpoint per replica (`endpoints`), and the web app
    nowhere (not part of this system). In a cluster the Service name resolves only to ready
    pods (readiness probes); here Envoy checks each replica's gRPC health itself, every
    `check_interval` seconds, on the service the readiness probe asks about
    (`health_services`), so a draining replica stops getting calls as a not-ready pod does.
    Writes envoy.yaml and yoga.pb into `folder`; returns the configuration's path."""
    folder.mkdir(parents=True, exist_ok=True)
    config_map = _named(objs, "ConfigMap", "gateway-config")
    descriptor = folder / "yoga.pb"
    descriptor.write_bytes(base64.b64decode(config_map["binaryData"]["yoga.pb"]))
    config: dict[str, Any] = yaml.safe_load(config_map["data"]["envoy.yaml"])
    config["admin"]["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": 0}
    resources = config["static_resources"]
    for listener in resources["listeners"]:
        port = health_port if listener["name"] == "health" else listen_port
        listener["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": port}
    _replace_descriptor(resources["listeners"], str(descriptor))
    clusters = {c["name"]: c for c in resources["clusters"]}
    for name, addresses in endpoints.items():
        cluster = clusters[name]
        cluster["type"] = "STATIC"
        cluster.pop("dns_lookup_family", None)
        cluster["load_assignment"]["endpoints"] = [
            {"lb_endpoints": [_endpoint(host, port) for host, port in addresses]}
        ]
        cluster["health_checks"] = [
            {
                "timeout": "1s",
                "interval": f"{check_interval}s",
                "no_traffic_interval": f"{check_interval}s",
                "unhealthy_threshold": 1,
                "healthy_threshold": 1,
                "grpc_health_check": {"service_name": health_services[name]},
            }
        ]
    web = clusters["web"]
    web["type"] = "STATIC"
    web.pop("dns_lookup_family", None)
    web["load_assignment"]["endpoints"] = [{"lb_endpoints": [_endpoint("127.0.0.1", 1)]}]
    path = folder / "envoy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _endpoint(host: str, port: int) -> dict[str, Any]:
    return {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}


def _replace_descriptor(node: Any, path: str) -> None:
    """Points every grpc_json_transcoder's proto_descriptor at `path`."""
    if isinstance(node, list):
        for item in node:
            _replace_descriptor(item, path)
    elif isinstance(node, dict):
        if "proto_descriptor" in node:
            node["proto_descriptor"] = path
        for value in node.values():
            _replace_descriptor(value, path)
