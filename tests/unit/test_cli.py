"""`yoga token` asks the provider; with none running it says what to do, makes nothing and signs
nothing itself (the project holds no signing key). Its run against a real Keycloak is in
tests/integration/test_identity_provider.py."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from yoga_common import cli


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("YOGA_JWT_ISSUER", raising=False)
    monkeypatch.setenv("KEYCLOAK_PORT", str(closed_port()))
    instance = tmp_path / "keycloak"
    (instance / "secrets").mkdir(parents=True)
    (instance / "secrets" / "bootstrap-admin").write_text("not-a-real-one")
    monkeypatch.setenv("KEYCLOAK_DIR", str(instance))
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_token_without_a_provider_says_what_to_do(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--user", "11"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "does not answer" in captured.err and "make run" in captured.err
    assert list(elsewhere.iterdir()) == []


def test_token_without_the_instance_secrets_names_the_missing_file(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYCLOAK_DIR", str(elsewhere / "never-started"))
    assert cli.main(["token", "--user", "11"]) == 2
    err = capsys.readouterr().err
    assert "never-started/secrets/bootstrap-admin is missing" in err
