"""`make run`: starts the Kafka broker, a local SMTP sink and every service on this machine with
SQLite files under var/, waits until each is healthy, prints how to call it, and stops
everything cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools import envoy
from devtools import gateway_config as gateway
from devtools import smtp_sink as smtp_sink_process
from devtools.processes import ServiceProcess, wait_for_port
from yoga_common.auth import ensure_dev_keys
from yoga_common.settings import AuthSettings, KafkaSettings
from yoga_common.topics import ensure_topics

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "var" / "logs"


SMTP_PORT = 2525
GATEWAY_PORT = 8088
# Each service's Prometheus metrics (the defaults of its config.py).
METRICS_PORTS = {
    "yogaclass_svc": 9461,
    "reservation_svc": 9462,
    "notification_svc": 9463,
    "mypage_svc": 9464,
}


def services() -> list[ServiceProcess]:
    mail = {"NOTIFICATION_SMTP_PORT": str(SMTP_PORT)}
    return [
        ServiceProcess("yogaclass_svc", 50051, {}, LOGS / "yogaclass.log"),
        ServiceProcess("reservation_svc", 50052, {}, LOGS / "reservation.log"),
        ServiceProcess("notification_svc", 50053, mail, LOGS / "notification.log"),
        ServiceProcess("mypage_svc", 50054, {}, LOGS / "mypage.log"),
    ]


def start_gateway(running: list[ServiceProcess]) -> envoy.EnvoyProcess:
    """Envoy on 8088 in front of the services: JSON and gRPC on one port."""
    targets = {s.module.removesuffix("_svc"): s.target for s in running}
    jwks = gateway.jwks_file(AuthSettings()).resolve()
    return envoy.start_gateway(ROOT / "var" / "envoy", GATEWAY_PORT, targets, jwks)


def script(*args: str) -> str:
    done = subprocess.run(
        [str(ROOT / "scripts" / args[0]), *args[1:]], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def smtp_sink() -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / "smtp_sink.log").open("ab") as log:
        sink = subprocess.Popen(
            smtp_sink_process.command(SMTP_PORT, ROOT / "var" / "mail"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(SMTP_PORT)
    except RuntimeError:
        sink.kill()
        raise RuntimeError("the SMTP sink did not start; see var/logs/smtp_sink.log") from None
    return sink


def banner(running: list[ServiceProcess], tools: str) -> str:
    lines = ["", "Yoga studio is up:"]
    lines += [f"  {s.module:<16} {s.target}   log: {s.log_path.relative_to(ROOT)}" for s in running]
    lines += [
        "",
        "Tokens (development key under var/keys):",
        "  ADMIN=$(.venv/bin/yoga token --user staff-1 --role admin)",
        "  MEMBER=$(.venv/bin/yoga token --user 11)",
        "",
        "Gateway 127.0.0.1:8088 (JSON and gRPC; log: var/envoy/envoy.log):",
        '  curl -s http://127.0.0.1:8088/v1/classes -H "authorization: Bearer $MEMBER"',
        "  grpcurl -plaintext -protoset envoy/yoga.pb -H \"authorization: Bearer $MEMBER\" -d '{}' "
        "127.0.0.1:8088 yoga.yogaclass.v1.YogaClassService/ListClasses",
        "",
        "Call a service directly with grpcurl (server reflection):",
        f"  export PATH={tools}:$PATH",
        '  grpcurl -plaintext -H "authorization: Bearer $ADMIN" -d \'{"yoga_class": '
        '{"title": "Vinyasa", "start_time": "2030-01-01T09:00:00Z", '
        '"end_time": "2030-01-01T10:00:00Z", "time_zone": "Asia/Seoul", "capacity": 2}}\' '
        "127.0.0.1:50051 yoga.yogaclass.v1.YogaClassService/CreateClass",
        '  grpcurl -plaintext -H "authorization: Bearer $MEMBER" -d \'{"class_id": "<id>", '
        '"request_id": "\'$(uuidgen)\'"}\' '
        "127.0.0.1:50052 yoga.reservation.v1.ReservationService/CreateReservation",
        "",
        "Prometheus metrics (text format):",
        *(f"  {s.module:<16} http://127.0.0.1:{METRICS_PORTS[s.module]}/metrics" for s in running),
        "Traces: set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4317) before make run.",
        "Grafana dashboard: monitoring/grafana-dashboard.json",
        "",
        "Kafka: 127.0.0.1:59092 (topics yoga.*.events); emails land in var/mail/*.eml",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def main() -> int:
    began = time.monotonic()
    ensure_dev_keys(AuthSettings())
    tools = script("tools.sh")
    print("starting Kafka ...", flush=True)
    script("kafka.sh", "start")
    ensure_topics(KafkaSettings())
    kafka_ready = time.monotonic() - began
    sink = smtp_sink()
    running = services()
    gateway_process: envoy.EnvoyProcess | None = None
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for service in running:
            service.start()
        for service in running:
            service.wait_healthy()
        gateway_process = start_gateway(running)
        print(banner(running, tools), flush=True)
        # bench/run.py reads this line (cold start).
        print(f"up in {time.monotonic() - began:.1f} s (Kafka {kafka_ready:.1f} s)", flush=True)
        while not stopping:
            for service in running:
                if service.process and service.process.poll() is not None:
                    print(f"{service.module} exited:\n{service.tail()}", file=sys.stderr)
                    return 1
            if gateway_process.process and gateway_process.process.poll() is not None:
                print(f"envoy exited:\n{gateway_process.tail()}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        if gateway_process:
            gateway_process.stop()
        for service in reversed(running):
            service.stop()
        sink.terminate()
        sink.wait(10)
        script("kafka.sh", "stop")
        print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
