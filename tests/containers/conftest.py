"""The image, built once a session (scripts/image.sh: podman, buildah and the base are
installed and made on first use), and the system run from it as the chart describes
(tests/containers/system.py). If podman cannot build or run it, the tests fail: nothing is
skipped. Figures (build and start times, the image's size) are printed and written to
var/containers/figures.json."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import containers
from tests.containers.system import ContainerSystem

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "var" / "containers" / "figures.json"


class Figures:
    """What the container test measured, by name; printed as it comes and kept in a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = {}

    def note(self, name: str, value: Any) -> None:
        self.values[name] = value
        print(f"\n[containers] {name}: {value}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.values, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def figures() -> Figures:
    return Figures(FIGURES)


@pytest.fixture(scope="session")
def image(figures: Figures, tmp_path_factory: pytest.TempPathFactory) -> str:
    log = tmp_path_factory.mktemp("image") / "image.log"
    began = time.monotonic()
    built = containers.build_image(log)
    figures.note("build_seconds", round(time.monotonic() - began, 1))
    figures.note("image_mb", round(containers.image_size(built) / 1e6))
    return built


@pytest.fixture(scope="module")
def cluster(
    image: str, figures: Figures, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ContainerSystem]:
    running = ContainerSystem.of_test_run(tmp_path_factory.mktemp("cluster"), image)
    began = time.monotonic()
    running.start()
    try:
        figures.note("system_start_seconds", round(time.monotonic() - began, 1))
        figures.note("all_replicas_serving_seconds", round(max(running.first_start.values()), 1))
        yield running
    finally:
        running.stop()
