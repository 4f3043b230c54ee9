#!/usr/bin/env bash
# Creates .venv and installs the project with its pinned packages. Idempotent: does nothing when
# pyproject.toml has not changed since the last install. Downloads are cached outside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
[[ -f "$stamp" ]] && exit 0

python=$(command -v python3.11 || command -v python3)
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "bootstrap: Python 3.11 is required" >&2; exit 1; }
[[ -x "$VENV/bin/python" ]] || "$python" -m venv "$VENV"
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-${YOGA_CACHE:-$HOME/.cache/yoga}/pip}
log="$VENV/install.log"
{
  "$VENV/bin/python" -m pip install --upgrade pip==26.3
  # compat mode: the source folders themselves go on the path, so a new package needs no reinstall.
  "$VENV/bin/python" -m pip install -e '.[dev]' --config-settings editable_mode=compat
} >"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "bootstrap: install failed (see $log)" >&2; exit 1; }
# The generated code lives in gen/ (package `yoga`); put it on the venv's path.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PWD/gen" > "$site/yoga_gen.pth"
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "bootstrap: $VENV ready"
