"""`yoga token` signs with the project's development key wherever it runs, and never makes a
key pair of its own (issue 12 §5: run from another folder it once did, silently, and every
call with its tokens failed "Jwt verification fails")."""

from __future__ import annotations

from pathlib import Path

import pytest

from yoga_common import cli
from yoga_common.auth import TokenVerifier
from yoga_common.settings import AuthSettings


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.setattr(cli, "ROOT", root)
    for name in ("YOGA_JWT_PUBLIC_KEY_FILE", "YOGA_JWT_PRIVATE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return root


def test_token_from_another_folder_uses_the_project_keys(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["keys"]) == 0
    capsys.readouterr()
    assert cli.main(["token", "--user", "11"]) == 0
    token = capsys.readouterr().out.strip()
    keys = AuthSettings(
        public_key_file=project / "var/keys/jwt-public.pem",
        private_key_file=project / "var/keys/jwt-private.pem",
    )
    assert TokenVerifier(keys).verify(token).subject == "11"
    assert not (Path.cwd() / "var").exists()


def test_token_without_keys_says_what_to_do_and_makes_none(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--user", "11"]) == 2
    err = capsys.readouterr().err
    assert "make run" in err and "YOGA_JWT_PRIVATE_KEY_FILE" in err
    assert not (Path.cwd() / "var").exists()
    assert not (project / "var").exists()
