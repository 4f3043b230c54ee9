"""Bearer JWTs from the OpenID Connect provider: verification (a key the issuer publishes, the
pinned algorithm, issuer, audience, expiry, not-before) and the caller they name. No service
holds a signing key: tokens come from the provider only."""

from __future__ import annotations

import time
from typing import Any

import jwt

from yoga_common.errors import unauthenticated
from yoga_common.issuer_keys import IssuerKeys
from yoga_common.principal import ADMIN, MEMBER, ROLES, SERVICE, Principal
from yoga_common.settings import AuthSettings

# The roles and Principal live in yoga_common.principal (no jwt there); named here too for the
# callers that verify tokens.
__all__ = ["ADMIN", "MEMBER", "ROLES", "SERVICE", "Principal", "TokenVerifier", "principal_from"]


def principal_from(claims: dict[str, Any]) -> Principal:
    """The caller a verified token names. Roles come from the provider's claim
    (`realm_access.roles`, Keycloak's); the strongest known one is the caller's. `sub` is the
    member's id everywhere; the address and the name are the ones the member gave the provider."""
    access = claims.get("realm_access")
    roles = access.get("roles") if isinstance(access, dict) else None
    granted = {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()
    role = next((r for r in (ADMIN, SERVICE, MEMBER) if r in granted), None)
    if role is None:
        raise unauthenticated("the token carries no role of this system")
    email, name = claims.get("email") or "", claims.get("name") or ""
    return Principal(str(claims["sub"]), role, str(email), str(name))


class TokenVerifier:
    """Checks a bearer token: its signature with a key the issuer publishes (found through its
    discovery document, or `jwks_uri`), the pinned algorithm, issuer, audience, expiry and
    not-before."""

    def __init__(self, settings: AuthSettings, keys: IssuerKeys | None = None) -> None:
        self._settings = settings
        self._keys = keys or IssuerKeys(
            settings.issuer, settings.jwks_uri, algorithms=(settings.algorithm,)
        )
        # Verified tokens, so a client reusing its token pays for the RSA check once: the
        # caller, the expiry and the key that signed it (a token of a key the provider has
        # since withdrawn is checked again, and refused).
        self._cache: dict[str, tuple[Principal, float, str]] = {}

    def _signing_key(self, kid: str) -> Any:
        key = self._keys.key(kid) if kid else None
        if key is None:
            raise unauthenticated("the token is signed with a key its issuer does not publish")
        return key

    def asks_provider(self, token: str) -> bool:
        """Whether verifying `token` may ask the provider for keys (its key is not held): the
        caller then verifies off its event loop."""
        if token in self._cache:
            return False
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            return False
        return isinstance(kid, str) and bool(kid) and not self._keys.holds(kid)

    def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        if cached and cached[1] > time.time() and self._keys.holds(cached[2]):
            return cached[0]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as err:
            raise unauthenticated(f"invalid token: {err}") from err
        kid = kid if isinstance(kid, str) else ""
        try:
            claims = jwt.decode(
                token,
                self._signing_key(kid),
                algorithms=[self._settings.algorithm],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as err:
            raise unauthenticated("the token has expired") from err
        except jwt.ImmatureSignatureError as err:
            raise unauthenticated("the token is not valid yet") from err
        except jwt.InvalidTokenError as err:
            raise unauthenticated(f"invalid token: {err}") from err
        principal = principal_from(claims)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (principal, float(claims["exp"]), kid)
        return principal
