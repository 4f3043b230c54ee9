"""The commands `make run` prints for a new user to paste run on a fresh machine: every
program a `$(...)` in them calls exists (issue 12 §5: the booking example called `uuidgen`,
which Debian does not install, and the call failed `request_id: is required`)."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest

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


def test_the_banner_names_what_the_readme_examples_lack(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's examples call curl and jq besides grpcurl (issue 12 §5: jq was not listed);
    `make run` says so when one is missing."""
    run = load_run()
    monkeypatch.setattr(run.shutil, "which", lambda name: None if name == "jq" else "/bin/x")
    assert run.missing_programs() == [
        "jq is missing: the README's examples need it (Debian: apt-get install jq)"
    ]


def load_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_run", ROOT / "scripts" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
