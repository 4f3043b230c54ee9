"""The commands `make run` prints for a new user to paste run on a fresh machine: every
program a `$(...)` in them calls exists (issue 12 §5: the booking example called `uuidgen`,
which Debian does not install, and the call failed `request_id: is required`)."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pasted_programs() -> set[str]:
    """The first word of every `$(...)` in the string constants of scripts/run.py."""
    tree = ast.parse((ROOT / "scripts" / "run.py").read_text())
    text = " ".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )
    return {match.split()[0] for match in re.findall(r"\$\(([^)]+)\)", text)}


def test_every_program_the_banner_calls_exists() -> None:
    programs = pasted_programs()
    assert programs, "the banner shows no command substitution"
    missing = {p for p in programs if not (shutil.which(p) or (ROOT / p).exists())}
    assert missing == set()
