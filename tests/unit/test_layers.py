"""Every service has the same layers, and each layer imports only what it may: the rules
(domain.py) are plain Python; the service layer (service.py) is the only code that opens a
transaction; storage.py holds the statements; the servicer and the consumers map protobuf to
the service layer. Checked on the source (imports), so a shortcut fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from yoga_common import system

ROOT = Path(__file__).resolve().parents[2]
LAYERS = (
    "config.py",
    "domain.py",
    "main.py",
    "messages.py",
    "service.py",
    "servicer.py",
    "storage.py",
)
# Imports each layer must not make (module prefixes).
FORBIDDEN = {
    "domain.py": (
        "grpc",
        "sqlalchemy",
        "google.protobuf",
        "yoga.",
        "jwt",
        "{pkg}.storage",
        "{pkg}.service",
        "{pkg}.servicer",
        "yoga_common.db",
        "yoga_common.uow",
    ),
    "service.py": ("grpc", "sqlalchemy", "yoga.", "{pkg}.servicer", "{pkg}.messages"),
    "storage.py": ("grpc", "yoga.", "{pkg}.service", "{pkg}.servicer", "{pkg}.messages"),
    "servicer.py": ("sqlalchemy", "{pkg}.storage", "yoga_common.db", "yoga_common.uow"),
    "consumers.py": ("sqlalchemy", "yoga_common.db", "{pkg}.servicer"),
}

# Modules of a layer beside its main one (a service with more than one set of rules keeps each
# in its own module): held to the same rules.
MORE_OF_LAYER = {
    "domain.py": ("waitlist.py", "studio.py", "series.py", "reminders.py"),
    "service.py": ("studio_service.py", "series_service.py"),
}


def layer_files(package: str, layer: str) -> list[Path]:
    names = (layer, *MORE_OF_LAYER.get(layer, ()))
    return [ROOT / package / name for name in names if (ROOT / package / name).exists()]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return found


@pytest.mark.parametrize("service", list(system.SERVICES.values()), ids=lambda s: s.name)
def test_every_service_has_the_same_layers(service: system.Service) -> None:
    folder = ROOT / service.package
    present = {p.name for p in folder.glob("*.py")}
    assert set(LAYERS) <= present, set(LAYERS) - present
    assert ("consumers.py" in present) == bool(service.consumes)


@pytest.mark.parametrize("service", list(system.SERVICES.values()), ids=lambda s: s.name)
def test_each_layer_imports_only_what_it_may(service: system.Service) -> None:
    problems = []
    for layer, forbidden in FORBIDDEN.items():
        for path in layer_files(service.package, layer):
            for name in sorted(imports(path)):
                for prefix in (f.format(pkg=service.package) for f in forbidden):
                    if name == prefix.rstrip(".") or name.startswith(prefix.rstrip(".") + "."):
                        problems.append(f"{service.package}/{path.name} imports {name}")
    assert problems == []


def test_only_the_service_layer_and_the_entry_point_open_transactions() -> None:
    """`Transactions`/`Database` are built in main.py and used by service.py only (consumers
    get their unit of work from the consumer runtime)."""
    problems = []
    for service in system.SERVICES.values():
        for path in (ROOT / service.package).glob("*.py"):
            if path.name in ("main.py", "service.py", *MORE_OF_LAYER["service.py"]):
                continue
            source = path.read_text()
            for opener in ("Transactions(", ".run_sync(", "Database(", "db.run(", "tx.run("):
                if opener in source:
                    problems.append(f"{service.package}/{path.name}: {opener}")
    assert problems == []
