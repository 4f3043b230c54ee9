"""Helpers for the tests of sign-in and token checks against the real Keycloak: a realm of the
test's own (a copy of keycloak/studio-realm.json), so rotating or adding keys disturbs no other
test; a key the test holds, imported into that realm as a published but passive key, so the
refusal tests can sign tokens that are valid in every respect but the one under test; and
tokens forged without any published key."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from yoga_common.dev_accounts import DevAccounts
from yoga_common.service_token import post_form
from yoga_common.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "keycloak" / "studio-realm.json"


def realm_copy(name: str, services_secret: str) -> dict[str, Any]:
    """The studio realm under another name, with its placeholders filled (Keycloak fills them
    only when it imports at start, not through the admin API) and no demo users."""
    text = REALM_FILE.read_text().replace("${YOGA_SERVICES_CLIENT_SECRET}", services_secret)
    realm: dict[str, Any] = json.loads(text)
    realm["realm"] = name
    realm["users"] = [u for u in realm["users"] if u["username"].startswith("service-account-")]
    return realm


@contextmanager
def own_realm(accounts: DevAccounts) -> Iterator[DevAccounts]:
    """A new realm like `studio` for the length of the block; accounts in it."""
    name = f"studio-{uuid.uuid4().hex[:8]}"
    secret = accounts.secret("services-client")
    accounts.admin_call("POST", "realms", realm_copy(name, secret))
    try:
        yield DevAccounts(f"{accounts.base}/realms/{name}", accounts.secrets)
    finally:
        accounts.admin("DELETE", "", realm=name)


def password_grant(issuer: str, username: str, password: str) -> str:
    """An access token for a person signing in with their password (the development client)."""
    answer = post_form(
        f"{issuer}/protocol/openid-connect/token",
        {
            "grant_type": "password",
            "client_id": "yoga-cli",
            "username": username,
            "password": password,
            "scope": "openid",
        },
    )
    return str(answer["access_token"])


def auth_of(accounts: DevAccounts) -> AuthSettings:
    """What services trusting `accounts`' realm are given."""
    return AuthSettings(issuer=accounts.issuer, client_secret=accounts.secret("services-client"))


def realm_id(accounts: DevAccounts) -> str:
    return str(accounts.admin("GET", "")["id"])


def signing_kid(accounts: DevAccounts) -> str:
    """The kid the realm signs RS256 tokens with now."""
    return str(accounts.admin("GET", "keys")["active"]["RS256"])


def add_generated_key(accounts: DevAccounts, priority: int, active: bool = True) -> None:
    accounts.admin(
        "POST",
        "components",
        {
            "name": f"key-{uuid.uuid4().hex[:6]}",
            "providerId": "rsa-generated",
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": realm_id(accounts),
            "config": {
                "priority": [str(priority)],
                "keySize": ["2048"],
                "algorithm": ["RS256"],
                "active": ["true" if active else "false"],
            },
        },
    )


def disable_keys_except(accounts: DevAccounts, keep_kid: str) -> list[str]:
    """Disables (unpublishes) every RS256 key provider but the one of `keep_kid`; their kids."""
    keys = accounts.admin("GET", "keys")["keys"]
    by_provider = {k["providerId"]: k["kid"] for k in keys if k.get("algorithm") == "RS256"}
    removed = []
    for component in accounts.admin("GET", "components?type=org.keycloak.keys.KeyProvider"):
        kid = by_provider.get(component["id"])
        if kid is None or kid == keep_kid:
            continue
        component["config"]["enabled"] = ["false"]
        accounts.admin("PUT", f"components/{component['id']}", component)
        removed.append(kid)
    return removed


@dataclass
class HeldKey:
    """A key the test holds, published by the realm (passive: the realm never signs with it)."""

    private: rsa.RSAPrivateKey
    kid: str

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm="RS256", headers={"kid": self.kid, **header}
        )


def import_held_key(accounts: DevAccounts) -> HeldKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    accounts.admin(
        "POST",
        "components",
        {
            "name": f"held-{uuid.uuid4().hex[:6]}",
            "providerId": "rsa",
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": realm_id(accounts),
            "config": {
                "priority": ["-100"],
                "privateKey": [pem],
                "active": ["false"],
                "enabled": ["true"],
                "algorithm": ["RS256"],
            },
        },
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    wanted = base64.b64encode(public).decode()
    for key in accounts.admin("GET", "keys")["keys"]:
        if key.get("publicKey") == wanted:
            return HeldKey(private, str(key["kid"]))
    raise AssertionError("the imported key is not among the realm's keys")


def claims_like(token: str, **changes: Any) -> dict[str, Any]:
    """The claims of a real token of the provider, changed (None removes a claim)."""
    body: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def now() -> int:
    return int(time.time())
