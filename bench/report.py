"""Figures and the table they make: each figure is the system's value per repetition next to
its reference's, reported as median (min-max) with the ratio of the medians, and checked
against its target when it has one."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path


class Broken(Exception):
    """A correctness check failed during a scenario: its figures are not reported."""


@dataclass(frozen=True)
class Target:
    """`value` compared with the system's median (`of_reference`: with the ratio instead)."""

    op: str  # ">=" or "<="
    value: float
    of_reference: bool = False

    def met(self, figure: Figure) -> bool:
        got = figure.ratio() if self.of_reference else figure.median()
        if got is None:
            return False
        return got >= self.value if self.op == ">=" else got <= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}{' x ref' if self.of_reference else ''}"


@dataclass
class Figure:
    scenario: str
    backend: str
    measure: str
    unit: str
    system: list[float]
    reference: list[float] = field(default_factory=list)
    reference_name: str = ""
    target: Target | None = None
    # CPU milliseconds per request, per process (medians over the repetitions).
    cpu_ms: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def median(self) -> float:
        return statistics.median(self.system)

    def ratio(self) -> float | None:
        if not self.reference:
            return None
        ref = statistics.median(self.reference)
        return self.median() / ref if ref else None


@dataclass
class Failure:
    scenario: str
    backend: str
    reason: str


def _spread(values: list[float]) -> str:
    if not values:
        return "—"
    m = statistics.median(values)
    digits = 0 if m >= 100 else (1 if m >= 10 else 2)
    return f"{m:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def markdown(figures: list[Figure], failures: list[Failure]) -> str:
    lines = [
        "| # | backend | measure | system median (min-max) | reference | reference median "
        "(min-max) | ratio | target | met | CPU ms per request |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        ratio = f.ratio()
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in f.cpu_ms.items()) or "—"
        note = f"; {f.note}" if f.note else ""
        lines.append(
            f"| {f.scenario} | {f.backend} | {f.measure} ({f.unit}){note} | {_spread(f.system)} | "
            f"{f.reference_name or '—'} | {_spread(f.reference)} | "
            f"{'—' if ratio is None else f'{ratio:.2f}'} | {f.target or '—'} | "
            f"{'—' if f.target is None else ('yes' if f.target.met(f) else 'no')} | {cpu} |"
        )
    for failure in failures:
        lines.append(
            f"| {failure.scenario} | {failure.backend} | FAILED: {failure.reason} | | | | | | | |"
        )
    return "\n".join(lines)


def save(folder: Path, header: str, figures: list[Figure], failures: list[Failure]) -> Path:
    """Writes `latest.md` (the table) and `latest.json` (every repetition) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latest.json").write_text(
        json.dumps(
            {
                "header": header,
                "figures": [asdict(f) for f in figures],
                "failures": [asdict(f) for f in failures],
            },
            indent=1,
            default=str,
        )
    )
    path = folder / "latest.md"
    path.write_text(f"{header}\n\n{markdown(figures, failures)}\n")
    return path
