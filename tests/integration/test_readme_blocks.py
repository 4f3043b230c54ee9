"""Every shell block of the README runs as written against `make run` (issue 12 §5: the gRPC
section never set $CLASS_ID or $RESERVATION_ID, and the curl section needed jq, which the
README did not list).

`make run` runs in a fresh copy of this checkout (the files git knows, uncommitted changes
included) in a temporary folder, so its var/ (Keycloak's data and secrets, SQLite files, mail,
logs, the broker's data) is never the developer's. The copy shares this checkout's .venv, with
PYTHONPATH on the copy's sources, as its own .venv would be. It uses the registry's ports, as
the README's blocks name them (Keycloak's too: `yoga token` finds it there); its own broker
moves to free ports (KAFKA_PORT, as documented), so it never meets the broker of `make test`.
It stops everything it started, also when a block fails. A part that cannot start fails the
test. The README's rules (skip markers, `# → ...` comments) are in
devtools/readme_blocks.py; each section runs in one bash session of its own."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest

from devtools import readme_blocks as readme
from devtools.processes import free_port
from yoga_common import system

pytestmark = pytest.mark.integration

ROOT = readme.ROOT
SECTIONS = readme.sections(readme.README.read_text())
# The registry's ports `make run` listens on (its broker is moved to free ones).
PORTS = sorted(
    {system.GATEWAY_PORT, system.WEB_PORT, system.SMTP_SINK_PORT}
    | {system.KEYCLOAK_PORT, system.KEYCLOAK_MANAGEMENT_PORT}
    | {s.port for s in system.SERVICES.values()}
    | {s.metrics_port for s in system.SERVICES.values()}
)
UP_TIMEOUT = 300.0  # the first `make run` of a machine builds grpcurl
ATTEMPTS = 3  # of `make run`, when one of its ports was taken (see `checkout`)
BIND_FAILED = ("Failed to bind to address", "ddress already in use")
SESSION_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def fresh_copy(target: Path) -> None:
    """The checkout's files as git sees them (tracked and new, ignored ones left out, symlinks
    kept as links), with .venv linked to this checkout's."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not (source.exists() or source.is_symlink()) or source.is_dir():
            continue  # deleted in the working tree, or a submodule
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
    (target / ".venv").symlink_to(ROOT / ".venv")


def reader_env(copy: Path) -> dict[str, str]:
    """The environment of a reader of the copy: none of the settings that rewire the system
    (the services', the tokens', the broker's, the tracer's), nor grpcurl's folder on PATH
    (the README puts it there); Python reads the copy's sources."""
    prefixes = (
        "YOGA_",
        "OTEL_",
        "KAFKA_",
        "KEYCLOAK_",
        "PG",
        *(s.env_prefix for s in system.SERVICES.values()),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) or k == "YOGA_CACHE"}
    cache = Path(env.get("YOGA_CACHE", Path.home() / ".cache" / "yoga"))
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != cache / "bin"
    )
    env["PYTHONPATH"] = f"{copy}{os.pathsep}{copy / 'gen'}"
    return env


def stop_group(process: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Sends `sig` to the process group; after `timeout`, SIGKILL to what is left of it."""
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)


def start_make_run(
    copy: Path, env: dict[str, str], log_path: Path
) -> tuple[subprocess.Popen[bytes], bool]:
    """`make run` in the copy, its output in `log_path`, once it is up (True) or has exited
    (False). On a timeout, it is stopped and the test fails."""
    with log_path.open("wb") as log:
        make_run = subprocess.Popen(
            ["make", "-s", "run"],
            cwd=copy,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + UP_TIMEOUT
    try:  # also on Ctrl-C: make run has a session of its own, so the terminal's misses it
        while "\nup in " not in log_path.read_text(errors="replace"):
            if make_run.poll() is not None:
                return make_run, False
            if time.monotonic() > deadline:
                said = log_path.read_text()[-4000:]
                pytest.fail(f"make run not up after {UP_TIMEOUT} s:\n{said}")
            time.sleep(0.5)
    except BaseException:
        stop_make_run(make_run, copy, env)
        raise
    return make_run, True


def stop_make_run(make_run: subprocess.Popen[bytes], copy: Path, env: dict[str, str]) -> str:
    """Ctrl-C, as the README says; then whatever did not stop, and the broker and Keycloak
    (sessions of their own, so not in the group) in case make run did not stop them: what
    their scripts said."""
    stop_group(make_run, signal.SIGINT, STOP_TIMEOUT)
    said = [
        subprocess.run(
            [str(copy / "scripts" / name), "stop"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stderr
        for name in ("kafka.sh", "keycloak.sh")
    ]
    return "\n".join(said)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh copy of the checkout with `make run` up in it, and the reader's environment."""
    # The copy's `make run` must find the .venv ready (scripts/bootstrap.sh's stamp): else it
    # would install the copy into this checkout's .venv.
    digest = sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if not (ROOT / ".venv" / f".installed-{digest}").exists():
        pytest.fail("the .venv is not bootstrapped for this pyproject.toml: run `make venv`")
    busy = [p for p in PORTS if listening(p)]
    if busy:
        pytest.fail(f"ports {busy} are taken (is `make run` running?): the README names them")
    copy = tmp_path_factory.mktemp("readme") / "yoga-studio"
    fresh_copy(copy)
    env = reader_env(copy)
    run_env = {**env, "KAFKA_PORT": str(free_port()), "KAFKA_CONTROLLER_PORT": str(free_port())}
    for attempt in range(1, ATTEMPTS + 1):
        log_path = copy.parent / f"make-run-{attempt}.log"
        make_run, up = start_make_run(copy, run_env, log_path)
        if up:
            break
        stop_make_run(make_run, copy, run_env)
        said = log_path.read_text(errors="replace")
        # The registry's ports lie in Linux's ephemeral range: an outgoing connection of any
        # process may hold one for a moment (seen: a Kafka client's, on 50052). Not a reason
        # to give up at once; anything else is.
        if attempt == ATTEMPTS or not any(sign in said for sign in BIND_FAILED):
            pytest.fail(f"make run did not come up (attempt {attempt}):\n{said[-4000:]}")
        time.sleep(2)
    try:
        yield copy, env
    finally:
        broker = stop_make_run(make_run, copy, run_env)
        shutil.rmtree(copy / "var" / "kafka", ignore_errors=True)
        shutil.rmtree(copy / "var" / "keycloak", ignore_errors=True)
    assert broker.count("not running") == 2, f"make run left a server running: {broker}"
    left = [p for p in PORTS if listening(p)]
    assert not left, f"ports {left} still answer after make run stopped"
    assert "\nstopped." in log_path.read_text(), log_path.read_text()[-2000:]


@pytest.mark.parametrize("section", list(SECTIONS), ids=lambda s: s.split(":")[0].lower())
def test_the_section_runs_as_written(section: str, checkout: tuple[Path, dict[str, str]]) -> None:
    copy, env = checkout
    session = readme.Session(SECTIONS[section])
    script = copy.parent / f"session-{SECTIONS[section][0].line}.sh"
    script.write_text(session.script)
    shell = subprocess.Popen(
        ["bash", "--noprofile", "--norc", str(script)],
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        output, _ = shell.communicate(timeout=SESSION_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_group(shell, signal.SIGKILL, 10)
        output, _ = shell.communicate()
        pytest.fail(f"{section}: no end after {SESSION_TIMEOUT} s:\n{output.decode()[-4000:]}")
    except BaseException:
        stop_group(shell, signal.SIGKILL, 10)
        raise
    text = output.decode(errors="replace")
    outcome = session.read(text, shell.returncode)
    problems = outcome.problems(session)
    assert not problems, (
        f"section {section!r}:\n- "
        + "\n- ".join(problems)
        + f"\n\nwhat it printed, by README line:\n{outcome.transcript[-3000:]}"
    )
