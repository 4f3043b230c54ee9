"""`make run`: starts the Kafka broker and Keycloak (the identity provider) side by side, builds
the web app when its sources changed (scripts/web.sh build, meanwhile), then a local SMTP sink,
every service, nginx serving the web app and Envoy on this machine on the registry's ports
(`yoga_common/system.py`), with SQLite files under var/, waits until each is healthy, prints the
app's URL, how to sign in and call it, and stops everything cleanly on Ctrl-C. A broker or a
Keycloak that was running already (their scripts', e.g. of an earlier `make run`) is used and
left running; with YOGA_KAFKA_BOOTSTRAP_SERVERS set, that broker is used and none is started."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

from pydantic import SecretStr

from devtools import servers
from devtools.stack import Stack
from yoga_common.settings import AuthSettings, KafkaSettings

ROOT = Path(__file__).resolve().parent.parent


def broker_named() -> bool:
    """Whether the environment names the broker (then scripts/kafka.sh's is not started)."""
    return bool(os.environ.get("YOGA_KAFKA_BOOTSTRAP_SERVERS"))


def kafka_settings() -> KafkaSettings:
    """The broker scripts/kafka.sh runs (KAFKA_PORT moves it), unless the environment names
    another."""
    if broker_named():
        return KafkaSettings()
    return KafkaSettings(bootstrap_servers=servers.kafka("bootstrap"))


def auth_settings() -> AuthSettings:
    """The Keycloak scripts/keycloak.sh runs (KEYCLOAK_PORT moves it), with the services'
    client secret it made at its first start."""
    return AuthSettings(
        issuer=servers.script("keycloak.sh", "url"),
        client_secret=SecretStr(servers.script("keycloak.sh", "secret", "services-client")),
    )


def sign_in(issuer: str) -> list[str]:
    """How to sign in: the demo accounts (passwords made at Keycloak's first start) and the
    development tokens."""
    member_password = servers.script("keycloak.sh", "secret", "demo-member")
    return [
        f"Sign in (Keycloak, realm studio: {issuer}/account):",
        f"  admin@studio.example   password {servers.script('keycloak.sh', 'secret', 'demo-admin')}"
        "   (staff: role admin)",
        f"  jiwoo@studio.example   password {member_password}   (member)",
        f"  minji@studio.example   password {member_password}   (member)",
        "  New members register themselves on the sign-in page (email as user name).",
        "Tokens for the examples (a development user made at the provider on first use):",
        "  ADMIN=$(.venv/bin/yoga token --user staff-1 --role admin)",
        "  MEMBER=$(.venv/bin/yoga token --user 11)",
        "  (a member's id is the token's `sub`; `me` stands for it in /v1/users/me/...)",
    ]


def web_app() -> Path | None:
    """The built web app (scripts/web.sh build: npm ci when the lockfile changed, the build
    when the sources did), or None while the repository holds no app (no web/package.json)."""
    printed = servers.script("web.sh", "build")
    return Path(printed.splitlines()[-1]) if printed else None


def banner(stack: Stack, tools: str) -> str:
    assert stack.envoy is not None
    gateway = stack.envoy.target
    services = stack.services
    lines = ["", "Yoga studio is up:"]
    lines += [
        f"  {s.module:<16} {s.target}   log: {s.log_path.relative_to(ROOT)}"
        for s in services.values()
    ]
    lines += [""]
    if stack.nginx:
        lines += [
            f"Web app: http://{gateway}/   (members and staff sign in with the accounts below; "
            f"nginx log: {stack.nginx.log_path.relative_to(ROOT)})"
        ]
    else:
        lines += ["Web app: none yet (web/package.json is missing)"]
    lines += ["", *sign_in(stack.auth.issuer), ""]
    lines += [
        f"Gateway {gateway} (JSON and gRPC; log: {stack.envoy.log_path.relative_to(ROOT)}):",
        f'  curl -s http://{gateway}/v1/classes -H "authorization: Bearer $MEMBER"',
        "  grpcurl -plaintext -protoset envoy/yoga.pb -H \"authorization: Bearer $MEMBER\" -d '{}' "
        f"{gateway} yoga.yogaclass.v1.YogaClassService/ListClasses",
        "",
        "Call a service directly with grpcurl (server reflection):",
        f"  export PATH={tools}:$PATH",
        '  grpcurl -plaintext -H "authorization: Bearer $ADMIN" -d \'{"yoga_class": '
        '{"title": "Vinyasa", "start_time": "2030-01-01T09:00:00Z", '
        '"end_time": "2030-01-01T10:00:00Z", "time_zone": "Asia/Seoul", "capacity": 2}}\' '
        f"{stack.target('yogaclass')} yoga.yogaclass.v1.YogaClassService/CreateClass",
        '  grpcurl -plaintext -H "authorization: Bearer $MEMBER" -d \'{"class_id": "<id>", '
        '"request_id": "\'$(cat /proc/sys/kernel/random/uuid)\'"}\' '
        f"{stack.target('reservation')} yoga.reservation.v1.ReservationService/CreateReservation",
        "",
        "Prometheus metrics (text format):",
        *(f"  {s.module:<16} {stack.metrics_url(name)}" for name, s in services.items()),
        "Traces: set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4317) before make run.",
        "Grafana dashboard: monitoring/grafana-dashboard.json",
        "",
        f"Kafka: {stack.kafka.bootstrap_servers} (topics yoga.*.events); "
        f"emails land in {stack.mail_folder.relative_to(ROOT)}/*.eml",
        *missing_programs(),
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def missing_programs() -> list[str]:
    """A line for each program the README's examples call that this machine lacks (grpcurl
    comes from scripts/tools.sh)."""
    return [
        f"{name} is missing: the README's examples need it (Debian: apt-get install {name})"
        for name in ("curl", "jq")
        if shutil.which(name) is None
    ]


def main() -> int:
    began = time.monotonic()
    # Only what the banner's examples need; the bench's load generators are built by make bench.
    print("grpcurl (built with Go on the first run) ...", flush=True)
    tools = servers.script("tools.sh", "grpcurl")
    tools_ready = time.monotonic() - began
    named = broker_named()
    wanted = ["keycloak"] if named else ["kafka", "keycloak"]
    print(
        f"starting {' and '.join(wanted)} side by side"
        + (" (Kafka: the broker YOGA_KAFKA_BOOTSTRAP_SERVERS names)" if named else "")
        + " ...",
        flush=True,
    )
    # Read (made, the first time) before Keycloak starts, which reads it too.
    auth = auth_settings()
    try:
        # Stopped at the end if started here; one that was running already is left running.
        with servers.starting(wanted) as started:
            # Built while the broker and the provider start.
            print("web app (built when its sources changed) ...", flush=True)
            built = time.monotonic()
            app = web_app()
            web_ready = time.monotonic() - built
            # The services need the broker to start, not the provider: they fetch its keys
            # when the first token comes, and Envoy fetches them again until it answers.
            started.wait("kafka")
            return serve(began, tools, tools_ready, auth, started, app, web_ready)
    finally:
        print("stopped.")


def serve(
    began: float,
    tools: str,
    tools_ready: float,
    auth: AuthSettings,
    started: servers.Starting,
    app: Path | None,
    web_ready: float,
) -> int:
    """Starts the stack while Keycloak may still start, prints the banner once both are up
    and runs until Ctrl-C (0) or until a process of the stack ends by itself (1); stops the
    stack either way. `started`: the shared servers this run starts; `app`: the built web app
    (None: none to serve)."""
    kafka_ready = time.monotonic() - began - tools_ready
    stack = Stack(
        ROOT / "var",
        auth,
        kafka_settings(),
        backend=None,
        fixed_ports=True,
        metrics=True,
        smtp_sink=True,
        gateway=True,
        web=app is not None,
        web_root=app,
        logs=ROOT / "var" / "logs",
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
        services_ready = time.monotonic() - began - tools_ready - kafka_ready
        started.wait()
        assert stack.envoy is not None
        stack.envoy.wait_for_keys()
        print(banner(stack, tools), flush=True)
        # bench/run.py reads this line (cold start).
        took = time.monotonic() - began
        shares = ", ".join(f"{name} {s:.1f} s" for name, s in started.seconds.items())
        print(
            f"up in {took:.1f} s (tools {tools_ready:.1f} s, Kafka {kafka_ready:.1f} s "
            f"(the web app's build meanwhile: {web_ready:.1f} s), "
            f"services and gateway {services_ready:.1f} s after it; shared servers started "
            f"side by side: {shares or 'none'})",
            flush=True,
        )
        while not stopping:
            ended = stack.exited()
            if ended:
                print(f"{ended} exited:\n{stack.tail(ended)}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
