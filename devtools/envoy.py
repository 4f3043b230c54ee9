"""Envoy as a child process of the development stack (`make run`, the tests, the bench), with
the configuration of `devtools.gateway_config`."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devtools.gateway_config import DESCRIPTOR, GatewayOptions, render_config
from devtools.processes import Child, Listening, log_to

ENVOY = Path(sys.executable).parent / "envoy"


def validate(config_path: Path, binary: Path = ENVOY) -> None:
    """`envoy --mode validate`: parses the configuration and loads every part of it (the
    descriptor set, the filters, the clusters' TLS contexts) without serving; it does not fetch
    the issuer's keys. Raises with Envoy's complaint."""
    done = subprocess.run(
        [str(binary), "--mode", "validate", "-c", str(config_path), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"envoy rejects {config_path}:\n{done.stdout}{done.stderr}")


@dataclass
class EnvoyProcess(Child, Listening):
    """Envoy as a child process: one worker (`--concurrency 1`; it did better than two on
    2 cores), its log (Envoy's own messages and the JSON access log) in `log_path`, ready when
    the admin endpoint answers `/ready`."""

    config_path: Path
    log_path: Path
    listen_port: int
    binary: Path = ENVOY
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def admin_address_path(self) -> Path:
        return self.config_path.with_suffix(".admin")

    def admin_url(self) -> str:
        address = self.admin_address_path.read_text().strip()
        return f"http://{address}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.admin_address_path.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "-c",
                str(self.config_path),
                "--concurrency",
                "1",
                # Several gateways (tests, `make run`) may run on one machine: no shared memory.
                "--disable-hot-restart",
                "--admin-address-path",
                str(self.admin_address_path),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log_to(self.log_path, self.process.stdout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"envoy exited; see {self.log_path}:\n{self.tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"envoy not ready after {timeout}s:\n{self.tail()}")

    def wait_for_keys(self, timeout: float = 30.0) -> None:
        """Until the gateway holds the issuer's keys (a first JWKS fetch succeeded): before it
        every token is refused. `make run` starts Envoy while Keycloak may still start."""
        deadline = time.monotonic() + timeout
        while self._stat("http.gateway.jwt_authn.jwks_fetch_success") < 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"envoy fetched no signing keys in {timeout}s:\n{self.tail()}")
            time.sleep(0.1)

    def _stat(self, name: str) -> int:
        try:
            with urllib.request.urlopen(
                f"{self.admin_url()}/stats?filter=^{name}$", timeout=1
            ) as answer:
                text = answer.read().decode()
        except (OSError, urllib.error.URLError):
            return 0
        _, _, value = text.strip().partition(": ")
        return int(value) if value.isdigit() else 0

    def _ready(self) -> bool:
        if not self.admin_address_path.exists():
            return False
        try:
            with urllib.request.urlopen(f"{self.admin_url()}/ready", timeout=1) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False


def start_gateway(
    folder: Path,
    listen_port: int,
    targets: Mapping[str, str],
    descriptor_path: Path = DESCRIPTOR,
    opts: GatewayOptions | None = None,
) -> EnvoyProcess:
    """Writes the configuration into `folder`, starts Envoy and waits until it is ready. Ready
    means the first fetch of the issuer's keys is done: it succeeded, or failed after its
    retries (then Envoy refuses every token until a fetch in the background succeeds). Tests
    pass a short `opts.jwks_cache_seconds` so that a key the issuer adds is seen soon."""
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "envoy.yaml"
    config_path.write_text(render_config(listen_port, targets, descriptor_path, opts=opts))
    envoy = EnvoyProcess(config_path, folder / "envoy.log", listen_port)
    envoy.start()
    try:
        envoy.wait_ready()
    except Exception:
        envoy.stop()
        raise
    return envoy
