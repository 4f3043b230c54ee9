"""The services' image run as containers on this machine with podman (Debian's, as root, the
runc runtime; settings in containers/containers.conf): building the image (scripts/image.sh),
running one container as a pod spec of the chart describes it (devtools/chart_pods.py), waiting
for it to answer SERVING, stopping it with SIGTERM. The container test (tests/containers) and
`make chaos` use it; nothing here ships in the image."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
CONTAINERS_CONF = ROOT / "containers" / "containers.conf"
IMAGE_SCRIPT = ROOT / "scripts" / "image.sh"
# Every container this tooling starts carries this label, with a value naming the checkout:
# leftovers of an earlier run of the same checkout (a killed test) are removed by it, never
# another checkout's containers.
LABEL = "org.yoga.checkout"


class PodmanError(RuntimeError):
    """podman refused or failed; the message holds its command and its complaint."""


def environment() -> dict[str, str]:
    """The environment podman runs in: ours, with the project's containers.conf."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 120.0, check: bool = True) -> str:
    """Runs `podman ARGS` and returns what it printed on stdout."""
    try:
        done = subprocess.run(
            ["podman", *args],
            capture_output=True,
            text=True,
            env=environment(),
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise PodmanError("podman is not installed: scripts/image.sh tools") from None
    if check and done.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def checkout_label() -> str:
    """This checkout's value of LABEL: its path (several worktrees share one image store)."""
    return str(ROOT)


def build_image(log: Path | None = None) -> str:
    """`scripts/image.sh build` (installs podman and buildah, makes the base once, builds the
    runtime stage with the layer cache): the image's id. Raises with the script's complaint."""
    done = subprocess.run([str(IMAGE_SCRIPT), "build"], capture_output=True, text=True, check=False)
    if log is not None:
        log.write_text(done.stderr)
    if done.returncode != 0:
        raise PodmanError(f"scripts/image.sh build failed:\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1]


def image_size(image: str) -> int:
    """The image's size in bytes, as podman counts it (every layer, uncompressed)."""
    return int(json.loads(podman("image", "inspect", image))[0]["Size"])


def run_in_image(image: str, *command: str, entrypoint: str = "python") -> str:
    """A throwaway container of the image running `command` (read-only, as the image's user):
    what it printed."""
    return podman(
        "run", "--rm", "--read-only", "--network", "none", "--entrypoint", entrypoint,
        image, *command,
    )  # fmt: skip


def remove_leftovers() -> list[str]:
    """Removes the containers an earlier run of this checkout left (killed before its
    teardown): their names."""
    names = podman(
        "ps", "-a", "--filter", f"label={LABEL}={checkout_label()}", "--format", "{{.Names}}"
    ).split()
    if names:
        podman("rm", "-f", "-t", "0", *names)
    return names


@dataclass(frozen=True)
class ContainerSpec:
    """What `podman run` needs for one container of a pod spec (devtools/chart_pods.py)."""

    name: str
    image: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    user: str  # uid:gid
    read_only: bool
    cap_drop: tuple[str, ...]
    no_new_privileges: bool
    tmpfs: Mapping[str, str]  # mount point -> podman --tmpfs options, e.g. "size=64m"
    binds: Mapping[str, str] = field(default_factory=dict)  # mount point -> a host folder
    memory: str = ""  # podman's --memory, e.g. "512m"
    cpus: str = ""  # podman's --cpus, e.g. "1"
    stop_timeout: int = 30  # seconds between SIGTERM and SIGKILL (terminationGracePeriodSeconds)

    def run_args(self, env_file: Path, log_file: Path) -> list[str]:
        """`podman create` arguments: the host's network (Kafka, PostgreSQL and the identity
        provider listen on this machine's loopback), the environment from a file (it holds the
        database URLs and the client secret: never on a command line), the log to a file."""
        args = [
            "--name", self.name,
            "--label", f"{LABEL}={checkout_label()}",
            "--network", "host",
            "--user", self.user,
            "--env-file", str(env_file),
            "--log-driver", "k8s-file",
            "--log-opt", f"path={log_file}",
            "--stop-signal", "SIGTERM",
            "--stop-timeout", str(self.stop_timeout),
        ]  # fmt: skip
        if self.read_only:
            # podman adds writable tmpfs on /tmp, /var/tmp and /run by default: not in a pod
            # whose root is read-only; only the volumes the spec names are writable.
            args += ["--read-only", "--read-only-tmpfs=false"]
        for cap in self.cap_drop:
            args += ["--cap-drop", cap]
        if self.no_new_privileges:
            args += ["--security-opt", "no-new-privileges"]
        for mount, options in self.tmpfs.items():
            args += ["--tmpfs", f"{mount}:{options}" if options else mount]
        for mount, folder in self.binds.items():
            args += ["--volume", f"{folder}:{mount}:rw,nosuid,nodev"]
        if self.memory:
            args += ["--memory", self.memory]
        if self.cpus:
            args += ["--cpus", self.cpus]
        return [*args, self.image, *self.args]


@dataclass
class Container:
    """One container of the image: created once (`create`), then started and stopped as
    often as a test wants, keeping its settings, as a pod's container restarts in place."""

    spec: ContainerSpec
    folder: Path
    port: int  # where its gRPC health answers, on 127.0.0.1
    # The service its readiness is asked about (its readiness probe's); "": the server's.
    health_service: str = ""
    created: bool = field(default=False, init=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    def create(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        env_file = self.folder / f"{self.name}.env"
        env_file.touch(mode=0o600)
        env_file.write_text("".join(f"{k}={v}\n" for k, v in self.spec.env.items()))
        podman("create", *self.spec.run_args(env_file, self.log_path))
        self.created = True

    def start(self) -> None:
        if not self.created:
            self.create()
        podman("start", self.name)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Sends `sig` (SIGTERM: a graceful stop; SIGKILL: a crash), waits for the exit
        (SIGKILL after the spec's stop timeout): the exit code."""
        if sig == signal.SIGTERM:
            podman("stop", "-t", str(self.spec.stop_timeout), self.name,
                   timeout=self.spec.stop_timeout + 30)  # fmt: skip
        else:
            podman("kill", "--signal", sig.name, self.name)
        podman("wait", self.name, timeout=self.spec.stop_timeout + 30)
        return self.exit_code()

    def wait_exit(self, timeout: float) -> int:
        """Until the container ends by itself (a Job's command): its exit code."""
        podman("wait", self.name, timeout=timeout)
        return self.exit_code()

    def remove(self) -> None:
        if self.created:
            podman("rm", "-f", "-t", "0", self.name, check=False)
            self.created = False

    def inspect(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(podman("container", "inspect", self.name))[0]
        return found

    def exit_code(self) -> int:
        return int(self.inspect()["State"]["ExitCode"])

    def running(self) -> bool:
        return bool(self.inspect()["State"]["Running"])

    def tail(self, lines: int = 40) -> str:
        return podman("logs", "--tail", str(lines), self.name, check=False)

    def wait_serving(self, timeout: float = 60.0) -> float:
        """Until grpc.health.v1 answers SERVING for its health service: the seconds it took.
        A container that exits meanwhile fails at once, with its log."""
        began = time.monotonic()
        deadline = began + timeout
        asked = health_pb2.HealthCheckRequest(service=self.health_service)
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    answer = stub.Check(asked, timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return time.monotonic() - began
                except grpc.RpcError:
                    if not self.running():
                        raise PodmanError(f"{self.name} exited:\n{self.tail()}") from None
                time.sleep(0.05)
        raise PodmanError(f"{self.name} not SERVING after {timeout}s:\n{self.tail()}")


def start_all(containers: Sequence[Container]) -> dict[str, float]:
    """Starts the containers side by side and waits until each is SERVING: the seconds from
    the start of all to each one's SERVING, by name."""
    began = time.monotonic()
    for container in containers:
        container.start()
    seconds: dict[str, float] = {}
    for container in containers:
        container.wait_serving()
        seconds[container.name] = time.monotonic() - began
    return seconds


def remove_all(containers: Sequence[Container], graceful: bool = True) -> None:
    """Stops the containers together (SIGTERM, each drains and finishes its calls side by
    side; SIGKILL after the longest stop timeout, or at once when not `graceful`) and removes
    them; their logs stay."""
    created = [c for c in containers if c.created]
    if not created:
        return
    timeout = max(c.spec.stop_timeout for c in created) if graceful else 0
    names = [c.name for c in created]
    try:
        podman("stop", "-t", str(timeout), *names, timeout=timeout + 30, check=False)
    finally:
        podman("rm", "-f", "-t", "0", *names, check=False)
        for container in created:
            container.created = False
