"""`scripts/web.sh build` builds only when it must: `npm ci` when package.json or the lockfile
changed (or node_modules is gone), `npm run build` when an input of the build changed (a file
git does not ignore under the app's folder) or dist/index.html is gone, nothing otherwise; it
prints the dist folder and nothing else on stdout; without a package.json it says so and
succeeds. The script runs for real, in a git checkout of a small app of its own; npm is a
stand-in on PATH that records each call and does what the real one leaves behind (node_modules,
dist/, a generated file git ignores)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_SH = ROOT / "scripts" / "web.sh"

FAKE_NPM = """#!/usr/bin/env bash
set -euo pipefail
echo "$*" >>"$NPM_CALLS"
[[ -z ${NPM_FAIL:-} ]] || { echo "npm ERR! $NPM_FAIL" >&2; exit 1; }
case "$1" in
  ci) rm -rf node_modules && mkdir -p node_modules/vite && echo '{}' >node_modules/.lock.json ;;
  run)
    # What the real build leaves: the types generated from the OpenAPI document (ignored by
    # git) and dist/, emptied first.
    mkdir -p src/api && echo "// generated $RANDOM" >src/api/schema.d.ts
    rm -rf dist && mkdir -p dist/assets
    echo '<!doctype html>' >dist/index.html
    echo 'console.log(1)' >"dist/assets/index-$RANDOM.js"
    ;;
esac
"""


@dataclass
class App:
    folder: Path
    state: Path
    calls: Path
    env: dict[str, str]

    def build(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(WEB_SH), "build"],
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def npm_calls(self) -> list[str]:
        """The npm calls since the last look."""
        if not self.calls.exists():
            return []
        calls = self.calls.read_text().splitlines()
        self.calls.unlink()
        return [call.split()[0] if call.startswith("ci") else call for call in calls]

    def write(self, name: str, text: str) -> None:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def app(tmp_path: Path) -> App:
    repo = tmp_path / "repo"
    folder = repo / "web"
    (folder / "src").mkdir(parents=True)
    (folder / "package.json").write_text('{"name": "fixture", "scripts": {"build": "vite"}}\n')
    (folder / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    (folder / "src" / "main.ts").write_text("export const a = 1;\n")
    (folder / ".gitignore").write_text("node_modules/\ndist/\nsrc/api/schema.d.ts\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(0o755)
    calls = tmp_path / "npm-calls"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "YOGA_WEB_DIR": str(folder),
        "YOGA_WEB_STATE": str(tmp_path / "state"),
        "YOGA_CACHE": str(tmp_path / "cache"),
        "NPM_CALLS": str(calls),
    }
    return App(folder, tmp_path / "state", calls, env)


def built(app: App) -> str:
    done = app.build()
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{app.folder / 'dist'}\n", done.stdout
    return done.stderr


def test_it_installs_and_builds_once_then_does_nothing(app: App) -> None:
    built(app)
    assert app.npm_calls() == ["ci", "run build"]
    said = built(app)
    assert app.npm_calls() == []
    assert "up to date" in said
    # npm's output went to the log, not to stdout.
    assert "== npm run build" in (app.state / "npm.log").read_text()


def test_a_changed_or_new_source_builds_again_without_installing(app: App) -> None:
    built(app)
    app.npm_calls()
    app.write("src/main.ts", "export const a = 2;\n")
    built(app)
    assert app.npm_calls() == ["run build"]
    app.write("src/views/Timetable.vue", "<template><p/></template>\n")  # new, untracked
    built(app)
    assert app.npm_calls() == ["run build"]
    (app.folder / "src" / "views" / "Timetable.vue").unlink()
    built(app)
    assert app.npm_calls() == ["run build"]


def test_a_changed_openapi_document_builds_again(app: App) -> None:
    """The app's types come from gen/openapi/ beside it (its `gen:api` script)."""
    document = app.folder.parent / "gen" / "openapi" / "yoga.openapi.json"
    document.parent.mkdir(parents=True)
    document.write_text('{"openapi": "3.0.3"}\n')
    built(app)
    app.npm_calls()
    document.write_text('{"openapi": "3.0.3", "paths": {}}\n')
    built(app)
    assert app.npm_calls() == ["run build"]
    built(app)
    assert app.npm_calls() == []


def test_what_git_ignores_does_not_count(app: App) -> None:
    built(app)
    app.npm_calls()
    app.write("src/api/schema.d.ts", "// edited by hand\n")
    app.write("node_modules/vite/index.js", "changed")
    app.write("dist/extra.txt", "left over")
    built(app)
    assert app.npm_calls() == []


def test_a_changed_lockfile_installs_and_builds(app: App) -> None:
    built(app)
    app.npm_calls()
    app.write("package-lock.json", '{"lockfileVersion": 3, "packages": {}}\n')
    built(app)
    assert app.npm_calls() == ["ci", "run build"]
    app.write("package.json", '{"name": "fixture", "version": "2"}\n')
    built(app)
    assert app.npm_calls() == ["ci", "run build"]


def test_what_is_gone_is_made_again(app: App) -> None:
    built(app)
    app.npm_calls()
    subprocess.run(["rm", "-rf", str(app.folder / "dist")], check=True)
    built(app)
    assert app.npm_calls() == ["run build"]
    subprocess.run(["rm", "-rf", str(app.folder / "node_modules")], check=True)
    built(app)
    assert app.npm_calls() == ["ci", "run build"]


def test_a_failed_build_says_why_and_is_tried_again(app: App) -> None:
    failed = app.build(NPM_FAIL="vue-tsc found 3 errors")
    assert failed.returncode != 0
    assert failed.stdout == ""
    assert "vue-tsc found 3 errors" in failed.stderr
    assert "npm ci" in failed.stderr and "failed" in failed.stderr
    app.npm_calls()
    built(app)
    assert app.npm_calls() == ["ci", "run build"]


def test_without_an_app_it_says_so_and_succeeds(app: App) -> None:
    (app.folder / "package.json").unlink()
    done = app.build()
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "no web app yet" in done.stderr
    assert app.npm_calls() == []


def test_npms_cache_is_outside_the_repository(app: App) -> None:
    npm = app.folder.parent.parent / "bin" / "npm"
    npm.write_text(FAKE_NPM.replace('echo "$*"', 'echo "$* cache=$npm_config_cache"'))
    built(app)
    [install, _] = (app.calls.read_text()).splitlines()
    assert install.endswith(f"cache={app.env['YOGA_CACHE']}/npm")
