"""The image holds the runtime only: the Dockerfile's final stage copies the generated code and
the runtime packages (yoga_common and every `*_svc`), nothing of the development tooling; and no
runtime module needs that tooling, neither to import nor in any import statement.

The packages are discovered, not listed, so a new service or module is held to the same rule."""

from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Development tooling of this repository, and packages of the `dev` extra that are not in the
# image (pyproject.toml): a runtime module importing any of them would fail in production.
TOOLING = ("devtools", "tests", "bench", "scripts")
DEV_ONLY = ("aiosmtpd", "pytest", "_pytest", "pytest_asyncio", "hypothesis")
FORBIDDEN = frozenset(TOOLING + DEV_ONLY)
# Generated protobuf code (package `yoga`), shipped beside the runtime packages.
GENERATED = "gen"


def runtime_packages() -> list[str]:
    found = [
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name.endswith("_svc")
    ]
    return ["yoga_common", *sorted(found)]


def source_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def importable_modules(package: str) -> list[str]:
    """Every module reachable through packages (folders with `__init__.py`). `__main__` is left
    out (importing it starts the service) and so are folders that are not packages (Alembic's
    migration scripts, run by Alembic): the static check below reads those."""
    modules = []
    for path in source_files(package):
        parts = path.relative_to(ROOT).with_suffix("").parts
        folders = [ROOT.joinpath(*parts[:i]) for i in range(1, len(parts))]
        if parts[-1] == "__main__" or not all((f / "__init__.py").exists() for f in folders):
            continue
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def final_stage(dockerfile: Path) -> list[str]:
    """The instructions after the last FROM, continuation lines joined, comments dropped."""
    instructions: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instructions.append(pending + line)
        pending = ""
    last_from = max(i for i, line in enumerate(instructions) if line.upper().startswith("FROM "))
    return instructions[last_from + 1 :]


def copied_sources(instructions: list[str]) -> list[str]:
    """What the COPY instructions take from the build context (not from another stage)."""
    sources: list[str] = []
    for instruction in instructions:
        words = shlex.split(instruction)
        if words[0].upper() not in ("COPY", "ADD"):
            continue
        flags = [w for w in words[1:] if w.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        arguments = [w for w in words[1:] if not w.startswith("--")]
        sources += arguments[:-1]
    return sources


def test_the_runtime_packages_are_found() -> None:
    packages = runtime_packages()
    assert packages[0] == "yoga_common"
    assert len(packages) >= 5, packages
    assert all(importable_modules(p) for p in packages)


def test_the_image_copies_exactly_the_runtime_packages() -> None:
    sources = copied_sources(final_stage(ROOT / "Dockerfile"))
    assert sorted(s.rstrip("/") for s in sources) == sorted([GENERATED, *runtime_packages()])
    assert not FORBIDDEN & {s.rstrip("/").split("/")[0] for s in sources}


# The web app's sources: the build context of the web image (the Dockerfile's `web` target),
# never copied into the services' image (above).
WEB = "web"


def test_the_build_context_holds_nothing_else() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    assert sorted(allowed) == sorted(["pyproject.toml", GENERATED, WEB, *runtime_packages()])
    # Of the app, its sources only: what npm installs and builds is made again in the image.
    assert {"web/node_modules", "web/dist"} <= set(lines)


def test_the_services_image_is_the_default_target_and_the_web_image_a_named_one() -> None:
    """`docker build .` builds the last stage: the services. The web image is `--target web`
    and takes the built assets from the Node stage, nothing of the Python packages."""
    text = (ROOT / "Dockerfile").read_text()
    stages = [line.split() for line in text.splitlines() if line.upper().startswith("FROM ")]
    assert len(stages[-1]) == 2, f"the last stage is named: {stages[-1]}"
    named = {words[3]: words[1] for words in stages if len(words) == 4}
    assert named["web"] == "${NGINX_IMAGE}" and named["web-build"] == "${NODE_IMAGE}"
    web_stage = text.split(" AS web\n", 1)[1].split("\nFROM ", 1)[0]
    copies = [line for line in web_stage.splitlines() if line.startswith("COPY")]
    assert copies == ["COPY --from=web-build /build/web/dist /usr/share/nginx/html"]


def test_the_builder_installs_no_dev_extra() -> None:
    builder = (ROOT / "Dockerfile").read_text().split("\nFROM ")[1]
    assert "optional-dependencies" not in builder
    assert not [name for name in DEV_ONLY if name in builder]


# Runs in a fresh interpreter: importing any of BLOCKED raises, as it would in the image.
IMPORT_ALL = """
import importlib, importlib.abc, json, sys

BLOCKED = frozenset(json.loads(sys.argv[1]))

class Tooling(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not in the image")
        return None

sys.meta_path.insert(0, Tooling())
failed = {}
for module in json.loads(sys.argv[2]):
    try:
        importlib.import_module(module)
    except Exception as err:
        failed[module] = f"{type(err).__name__}: {err}"
print(json.dumps(failed))
"""


@pytest.mark.parametrize("package", runtime_packages())
def test_every_runtime_module_imports_without_the_tooling(package: str) -> None:
    modules = importable_modules(package)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, json.dumps(sorted(FORBIDDEN)), json.dumps(modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {}


def imported_roots(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


@pytest.mark.parametrize("package", runtime_packages())
def test_no_runtime_source_imports_the_tooling(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN)
        for path in source_files(package)
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_the_image_exposes_the_registry_ports() -> None:
    """The Dockerfile cannot read yoga_common/system.py: its EXPOSE line is a copy, held here."""
    from yoga_common import system

    exposed = {
        int(port)
        for line in final_stage(ROOT / "Dockerfile")
        if line.startswith("EXPOSE ")
        for port in line.split()[1:]
    }
    assert {s.port for s in system.SERVICES.values()} <= exposed
