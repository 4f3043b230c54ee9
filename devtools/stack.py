"""One development stack: any subset of the four services as processes, each with a database
of its own, the SMTP sink, nginx serving the web app and Envoy in front, on one Kafka topic
prefix. `make run` starts it on
the registry's ports; the integration tests and the bench on free ones, so several stacks share
one machine and one broker. Every service's settings are derived from `yoga_common.system`."""

from __future__ import annotations

import dataclasses
import signal
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from devtools import smtp_sink
from devtools.envoy import EnvoyProcess, start_gateway
from devtools.gateway_config import GatewayOptions
from devtools.nginx import NginxProcess, build_app, start_web
from devtools.processes import (
    ChildProcess,
    ServiceProcess,
    cpu_seconds,
    free_port,
    new_database,
    start_or_undo,
    wait_for_port,
)
from yoga_common import system
from yoga_common.settings import AuthSettings, KafkaSettings
from yoga_common.topics import ensure_topics

SINK = "smtp_sink"
GATEWAY = "envoy"
WEB = "web"
# Where a service's port would be when a stack does not run it: calls to it fail UNAVAILABLE.
NOWHERE = "127.0.0.1:1"


@dataclass
class Stack:
    """What to run and how; `start()` runs it (or `with Stack(...) as stack:`), `stop()` stops
    it in reverse order. Logs go to `logs` (default: `folder`) as `<name>.log`, SQLite files,
    the sink's mail and Envoy's configuration to `folder`."""

    folder: Path
    auth: AuthSettings
    kafka: KafkaSettings
    names: tuple[str, ...] = tuple(system.SERVICES)
    # "sqlite" or "postgres" (through `pg_admin_url`): a new database per service. None: the
    # service's own default, or what the environment says (`make run`).
    backend: str | None = "sqlite"
    pg_admin_url: str = ""
    # Databases made and filled by the caller, by service name; they take precedence.
    database_urls: dict[str, str] = field(default_factory=dict)
    database_prefix: str = ""
    # The registry's ports (`make run`) instead of free ones.
    fixed_ports: bool = False
    # Ports chosen by the caller, by service name (they win): `make chaos` puts a proxy in
    # front of a service, so it must know the port before the service starts.
    ports: dict[str, int] = field(default_factory=dict)
    # Seconds each service has to answer SERVING at the start (a busy machine needs more).
    healthy_within: float = 30.0
    # Prometheus endpoints; off, they are set to 0 so that stacks never collide on them.
    metrics: bool = False
    # Start the project's SMTP sink, or point the mailers at a server running on `smtp_port`.
    smtp_sink: bool = False
    smtp_port: int = 0
    gateway: bool = False
    gateway_options: GatewayOptions | None = None
    # nginx serving the web app (web/dist, built by `scripts/web.sh build` when its sources
    # changed), with a /config.json naming `auth.issuer`; the gateway sends it every path that
    # is neither /v1/ nor gRPC. The app's URL: http://{envoy.target}/.
    web: bool = False
    # The built app to serve instead of web/dist (tests: a fixture of their own; no build).
    web_root: Path | None = None
    # Create the topics (off for a service tested without a broker).
    topics: bool = True
    # Settings of every service, and of one service (these win), on top of the wiring.
    common_env: dict[str, str] = field(default_factory=dict)
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: Path | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict, init=False)
    metrics_ports: dict[str, int] = field(default_factory=dict, init=False)
    sink: ChildProcess | None = field(default=None, init=False)
    envoy: EnvoyProcess | None = field(default=None, init=False)
    nginx: NginxProcess | None = field(default=None, init=False)
    # What each process exited with at the last `stop()` (None: it never started).
    exit_codes: dict[str, int | None] = field(default_factory=dict, init=False)

    @property
    def log_folder(self) -> Path:
        return self.logs or self.folder

    @property
    def mail_folder(self) -> Path:
        """Where the SMTP sink stores each message as an `.eml` file."""
        return self.folder / "mail"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Starts everything and waits until it answers; on a failure, stops what it started."""
        start_or_undo(self._start, self.stop)

    def _start(self) -> None:
        if self.topics:
            ensure_topics(self.kafka)
        if self.smtp_sink:
            self._start_sink()
        self._plan()
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_healthy(self.healthy_within)
        if self.web:
            self._start_web()
        if self.gateway:
            self.envoy = start_gateway(
                self.folder / "envoy",
                system.GATEWAY_PORT if self.fixed_ports else free_port(),
                # A service this stack does not run is routed nowhere: its calls fail 503.
                {name: self.target(name) for name in system.SERVICES},
                opts=self.gateway_opts(),
            )

    def gateway_opts(self) -> GatewayOptions:
        """The gateway's options with the issuer the services trust (and this stack's web app,
        when it runs one)."""
        opts = self.gateway_options or GatewayOptions()
        return dataclasses.replace(
            opts,
            issuer=self.auth.issuer,
            audience=self.auth.audience,
            jwks_uri=opts.jwks_uri or self.auth.jwks_uri,
            web_target=self.nginx.target if self.nginx else opts.web_target,
        )

    def _start_web(self) -> None:
        root = self.web_root or build_app()
        self.nginx = start_web(
            self.folder / WEB,
            system.WEB_PORT if self.fixed_ports else free_port(),
            root,
            self.auth.issuer,
            log_path=self.log_folder / f"{WEB}.log",
        )

    def _start_sink(self) -> None:
        self.smtp_port = system.SMTP_SINK_PORT if self.fixed_ports else free_port()
        self.sink = ChildProcess(
            "devtools.smtp_sink",
            {},
            self.log_folder / f"{SINK}.log",
            smtp_sink.arguments(self.smtp_port, self.mail_folder),
        )
        self.sink.start()
        try:
            wait_for_port(self.smtp_port)
        except RuntimeError:
            raise RuntimeError(f"the SMTP sink did not start:\n{self.sink.tail()}") from None

    def _plan(self) -> None:
        """Each service's port, metrics port and settings, before any of them starts (a
        service's settings may name another's port)."""
        chosen = [system.service(name) for name in self.names]
        ports = {
            s.name: self.ports.get(s.name) or (s.port if self.fixed_ports else free_port())
            for s in chosen
        }
        for s in chosen:
            if self.metrics:
                self.metrics_ports[s.name] = s.metrics_port if self.fixed_ports else free_port()
        for s in chosen:
            env = {**self._wiring(s, ports), **self.common_env, **self.env.get(s.name, {})}
            self.services[s.name] = ServiceProcess(
                s.package, env, self.log_folder / f"{s.name}.log", port=ports[s.name]
            )

    def _wiring(self, s: system.Service, ports: dict[str, int]) -> dict[str, str]:
        prefix = s.env_prefix
        env = {
            "YOGA_JWT_ISSUER": self.auth.issuer,
            "YOGA_JWT_AUDIENCE": self.auth.audience,
            "YOGA_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "YOGA_KAFKA_PREFIX": self.kafka.prefix,
            f"{prefix}PORT": str(ports[s.name]),
            f"{prefix}METRICS_PORT": str(self.metrics_ports.get(s.name, 0)),
        }
        if self.auth.jwks_uri:
            env["YOGA_JWT_JWKS_URI"] = self.auth.jwks_uri
        if s.calls:
            # Only a service that calls others holds the client secret for its own token.
            env["YOGA_JWT_CLIENT_SECRET"] = self.auth.client_secret.get_secret_value()
        url = self._database(s.name)
        if url:
            env[f"{prefix}DATABASE_URL"] = url
        for callee in s.calls:
            target = f"127.0.0.1:{ports[callee]}" if callee in ports else NOWHERE
            env[f"{prefix}{callee.upper()}_TARGET"] = target
        if s.sends_mail and self.smtp_port:
            env[f"{prefix}SMTP_HOST"] = "127.0.0.1"
            env[f"{prefix}SMTP_PORT"] = str(self.smtp_port)
        return env

    def _database(self, name: str) -> str:
        if name in self.database_urls:
            return self.database_urls[name]
        if self.backend is None:
            return ""
        label = f"{self.database_prefix}{name}"
        return new_database(self.backend, self.folder, label, self.pg_admin_url)

    def stop(self) -> dict[str, int | None]:
        """Stops the gateway, the web app's nginx, the services (last started first), then the
        sink: each one's exit code, by name (None: it never started)."""
        codes: dict[str, int | None] = {}
        if self.envoy:
            codes[GATEWAY] = self.envoy.stop()
        if self.nginx:
            codes[WEB] = self.nginx.stop()
        for name in reversed(list(self.services)):
            codes[name] = self.services[name].stop()
        if self.sink:
            codes[SINK] = self.sink.stop()
        self.exit_codes = codes
        return codes

    def restart(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stops one service (SIGKILL: a crash), starts it again with its settings as they are
        now, and waits until it is healthy."""
        service = self.services[name]
        service.stop(sig)
        service.start()
        service.wait_healthy()

    def targets(self) -> dict[str, str]:
        return {name: service.target for name, service in self.services.items()}

    def target(self, name: str) -> str:
        """A service's gRPC address; one this stack does not run is unreachable."""
        service = self.services.get(name)
        return service.target if service else NOWHERE

    def database_url(self, name: str) -> str:
        """The service's database, as its settings name it ("" when left to its default)."""
        return self.services[name].env.get(f"{system.service(name).env_prefix}DATABASE_URL", "")

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    def processes(self) -> dict[str, ChildProcess | EnvoyProcess | NginxProcess]:
        found: dict[str, ChildProcess | EnvoyProcess | NginxProcess] = {**self.services}
        if self.envoy:
            found[GATEWAY] = self.envoy
        if self.nginx:
            found[WEB] = self.nginx
        if self.sink:
            found[SINK] = self.sink
        return found

    def pids(self) -> dict[str, int]:
        """The running processes' ids, by name (services, `envoy`, `web`, `smtp_sink`)."""
        return {
            name: process.pid
            for name, process in self.processes().items()
            if process.pid is not None and not process.exited()
        }

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each running process has used so far."""
        return {name: cpu_seconds(pid) for name, pid in self.pids().items()}

    def tail(self, name: str, lines: int = 30) -> str:
        return self.processes()[name].tail(lines)

    def exited(self) -> str | None:
        """The name of a process that ended by itself, if any (`make run` watches for it)."""
        return next((n for n, p in self.processes().items() if p.exited()), None)
