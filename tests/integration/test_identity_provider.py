"""The studio's identity provider, a real Keycloak (scripts/keycloak.sh) with the realm of
keycloak/studio-realm.json (issue 13): demo members and staff sign in with the password grant,
the services with client credentials, and every access token carries the API's audience, the
realm's roles and the member's stable id, signed by a key the provider publishes."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.integration.identity_support import password_grant
from yoga_common.auth import TokenVerifier
from yoga_common.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "yoga"


@pytest.fixture(scope="module")
def issuer() -> str:
    url = os.environ.get("YOGA_TEST_KEYCLOAK", "")
    if not url:
        pytest.fail("YOGA_TEST_KEYCLOAK is not set: run the tests with `make test`")
    return url


def secret(name: str) -> str:
    """A secret the instance made at its first start (scripts/keycloak.sh secret NAME)."""
    found = subprocess.run(
        [str(ROOT / "scripts" / "keycloak.sh"), "secret", name],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def post(url: str, form: dict[str, str], token: str = "") -> dict[str, Any]:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode())
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return dict(json.load(answer))


def call(url: str, token: str, body: dict[str, Any] | None = None, method: str = "") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method or ("POST" if body else "GET"))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read()
        return json.loads(raw) if raw else None


def verified(issuer: str, token: str) -> dict[str, Any]:
    """The claims of `token`, its signature checked against the provider's published keys."""
    discovery = call(f"{issuer}/.well-known/openid-configuration", token="")
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    return dict(jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer))


def admin_token(issuer: str) -> str:
    base = issuer.rsplit("/realms/", 1)[0]
    answer = post(
        f"{base}/realms/master/protocol/openid-connect/token",
        {
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": "admin",
            "password": secret("bootstrap-admin"),
        },
    )
    return str(answer["access_token"])


def test_a_demo_member_signs_in_and_gets_a_token_for_the_api(issuer: str) -> None:
    token = password_grant(issuer, "jiwoo@studio.example", secret("demo-member"))
    claims = verified(issuer, token)
    assert claims["iss"] == issuer
    assert AUDIENCE in (claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]])
    assert uuid.UUID(claims["sub"])  # the provider's stable id, not the user name
    assert claims["email"] == "jiwoo@studio.example"
    assert "member" in claims["realm_access"]["roles"]
    assert "admin" not in claims["realm_access"]["roles"]


def test_staff_sign_in_with_the_admin_role(issuer: str) -> None:
    token = password_grant(issuer, "admin@studio.example", secret("demo-admin"))
    assert "admin" in verified(issuer, token)["realm_access"]["roles"]


def test_a_wrong_password_gets_no_token(issuer: str) -> None:
    with pytest.raises(RuntimeError, match=r"answered 400: .*invalid_grant"):
        password_grant(issuer, "jiwoo@studio.example", "not-the-password")


def test_the_services_get_a_token_with_client_credentials(issuer: str) -> None:
    answer = post(
        f"{issuer}/protocol/openid-connect/token",
        {
            "grant_type": "client_credentials",
            "client_id": "yoga-services",
            "client_secret": secret("services-client"),
        },
    )
    claims = verified(issuer, str(answer["access_token"]))
    assert "service" in claims["realm_access"]["roles"]
    assert claims["azp"] == "yoga-services"


def test_members_may_register_themselves_with_their_email_as_user_name(issuer: str) -> None:
    admin = admin_token(issuer)
    base = issuer.replace("/realms/", "/admin/realms/")
    realm = call(base, admin)
    assert realm["registrationAllowed"] is True
    assert realm["registrationEmailAsUsername"] is True
    # A new account (as the registration form makes it) is a member and can sign in.
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    password = uuid.uuid4().hex
    call(
        f"{base}/users",
        admin,
        {
            "username": email,
            "email": email,
            "firstName": "New",
            "lastName": "Member",
            "emailVerified": True,
            "enabled": True,
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        },
    )
    claims = verified(issuer, password_grant(issuer, email, password))
    assert claims["email"] == email
    assert "member" in claims["realm_access"]["roles"]


# --- the services' verifier against the provider ---------------------------------------------


def provider_verifier(issuer: str) -> TokenVerifier:
    return TokenVerifier(AuthSettings(issuer=issuer, audience=AUDIENCE))


def test_the_services_verifier_accepts_the_providers_tokens(issuer: str) -> None:
    check = provider_verifier(issuer)
    member = check.verify(password_grant(issuer, "minji@studio.example", secret("demo-member")))
    assert (member.role, member.email) == ("member", "minji@studio.example")
    assert uuid.UUID(member.subject)
    staff = check.verify(password_grant(issuer, "admin@studio.example", secret("demo-admin")))
    assert staff.role == "admin"


def test_yoga_token_gets_a_development_users_token_from_the_provider(
    issuer: str, tmp_path: Path
) -> None:
    """From any folder: the user is made at the provider on first use, and the token is the
    provider's (verified against its published keys), never one the project signed."""
    env = {**os.environ, "YOGA_JWT_ISSUER": issuer}
    name = f"cli-{uuid.uuid4().hex[:6]}"

    def yoga(*args: str) -> str:
        done = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "yoga"), "token", "--user", name, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    member = provider_verifier(issuer).verify(yoga())
    assert (member.role, member.email) == ("member", f"user{name}@example.com")
    assert yoga("--id") == member.subject
    staff = provider_verifier(issuer).verify(
        yoga("--role", "admin", "--email", f"{name}@staff.example")
    )
    assert (staff.role, staff.email) == ("admin", f"{name}@staff.example")
    service = provider_verifier(issuer).verify(yoga("--role", "service"))
    assert service.role == "service"
    assert list(tmp_path.iterdir()) == []
