"""Bearer JWTs: verification (signature, expiry, issuer, audience, pinned algorithm), the
development key pair made at run time under var/keys, and tokens for users and services."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from yoga_common.errors import unauthenticated
from yoga_common.issuer_keys import IssuerKeys
from yoga_common.principal import ADMIN, MEMBER, ROLES, SERVICE, Principal
from yoga_common.settings import AuthSettings

# The roles and Principal live in yoga_common.principal (no jwt there); named here too for the
# callers that mint or verify tokens.
__all__ = ["ADMIN", "MEMBER", "ROLES", "SERVICE", "Principal", "TokenVerifier", "issue_token"]


def ensure_dev_keys(settings: AuthSettings) -> None:
    """Creates the development RSA key pair and its JWKS for the gateway, where missing."""
    if not (settings.private_key_file.exists() and settings.public_key_file.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        settings.private_key_file.parent.mkdir(parents=True, exist_ok=True)
        settings.public_key_file.parent.mkdir(parents=True, exist_ok=True)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        settings.private_key_file.write_bytes(private_pem)
        settings.private_key_file.chmod(0o600)
        settings.public_key_file.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    jwks_file = settings.public_key_file.with_name("jwks.json")
    if not jwks_file.exists():
        public = serialization.load_pem_public_key(settings.public_key_file.read_bytes())
        if not isinstance(public, RSAPublicKey):
            raise ValueError(f"{settings.public_key_file} does not hold an RSA public key")
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        jwk.update({"kid": settings.key_id, "alg": settings.algorithm, "use": "sig"})
        jwks_file.write_text(json.dumps({"keys": [jwk]}, indent=2))


def issue_token(
    settings: AuthSettings, subject: str, role: str, email: str = "", ttl_seconds: int = 3600
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "role": role,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email:
        claims["email"] = email
    key = _private_key(settings.private_key_file)
    return jwt.encode(claims, key, algorithm=settings.algorithm, headers={"kid": settings.key_id})


@functools.lru_cache(maxsize=4)
def _private_key(path: Path) -> RSAPrivateKey:
    # Loading an RSA key validates it, which costs tens of milliseconds: do it once.
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def principal_from(claims: dict[str, Any]) -> Principal:
    """The caller a verified token names. Roles come from the provider's claim
    (`realm_access.roles`, Keycloak's) or the development tokens' `role`; the strongest known
    one is the caller's. `sub` is the member's id everywhere."""
    granted = set(claims.get("realm_access", {}).get("roles", []))
    if isinstance(claims.get("role"), str):
        granted.add(claims["role"])
    role = next((r for r in (ADMIN, SERVICE, MEMBER) if r in granted), None)
    if role is None:
        raise unauthenticated("the token carries no known role")
    return Principal(str(claims["sub"]), role, str(claims.get("email", "")))


class TokenVerifier:
    """Checks a bearer token: its signature with a key the issuer published (an OpenID Connect
    provider, when `issuer` is its URL) or the development key, the pinned algorithm, issuer,
    audience, expiry and not-before."""

    def __init__(self, settings: AuthSettings, keys: IssuerKeys | None = None) -> None:
        self._settings = settings
        self._issuer_keys = keys
        self._key: Any = None
        if keys is None and settings.issuer.startswith(("http://", "https://")):
            self._issuer_keys = IssuerKeys(
                settings.issuer, settings.jwks_uri, algorithms=(settings.algorithm,)
            )
        elif keys is None:
            self._key = serialization.load_pem_public_key(settings.public_key_file.read_bytes())
        # Verified tokens, so a client reusing its token pays for the RSA check once.
        self._cache: dict[str, tuple[Principal, float]] = {}

    def _signing_key(self, token: str) -> Any:
        if self._issuer_keys is None:
            return self._key
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as err:
            raise unauthenticated(f"invalid token: {err}") from err
        key = self._issuer_keys.key(str(kid)) if kid else None
        if key is None:
            raise unauthenticated("the token is signed with a key its issuer does not publish")
        return key

    def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        now = time.time()
        if cached and cached[1] > now:
            return cached[0]
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=[self._settings.algorithm],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as err:
            raise unauthenticated("the token has expired") from err
        except jwt.InvalidTokenError as err:
            raise unauthenticated(f"invalid token: {err}") from err
        principal = principal_from(claims)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (principal, float(claims["exp"]))
        return principal
