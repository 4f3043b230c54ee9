"""Development accounts at the OpenID Connect provider, for `yoga token`, the tests and the
bench: a user per name, made through Keycloak's admin API on first use (with the role asked
for), signed in with the password grant of the development client `yoga-cli`; a service signs
in with the client credentials of `yoga-services`. Tokens always come from the provider; nothing
here holds or makes a signing key.

The instance's secrets (the bootstrap admin's password, the services' client secret) are the
files scripts/keycloak.sh made under its folder's `secrets/`. A development user's password is
derived from the admin's secret and the address, so it is the same in every process and never
stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jwt

from yoga_common import system
from yoga_common.principal import ADMIN, MEMBER, ROLES, SERVICE
from yoga_common.service_token import post_form

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
DEV_CLIENT = "yoga-cli"
SERVICES_CLIENT = "yoga-services"


class ProviderUnavailable(RuntimeError):
    """The provider does not answer (not started, or another port)."""


def instance_issuer() -> str:
    """The issuer of the instance scripts/keycloak.sh runs here: YOGA_JWT_ISSUER, or its URL on
    KEYCLOAK_PORT (the registry's port unless set), as the script computes it."""
    port = os.environ.get("KEYCLOAK_PORT") or str(system.KEYCLOAK_PORT)
    return os.environ.get("YOGA_JWT_ISSUER") or f"http://127.0.0.1:{port}/realms/studio"


def instance_folder() -> Path:
    """The instance's folder (KEYCLOAK_DIR, else the project's var/keycloak)."""
    return Path(os.environ.get("KEYCLOAK_DIR") or ROOT / "var" / "keycloak")


def default_email(user: str) -> str:
    return f"user{user}@example.com"


@dataclass
class DevAccounts:
    issuer: str
    secrets: Path
    _tokens: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict, init=False)
    _ids: dict[str, str] = field(default_factory=dict, init=False)
    _admin: tuple[str, float] = field(default=("", 0.0), init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @classmethod
    def of_instance(cls, issuer: str = "", folder: Path | None = None) -> DevAccounts:
        return cls(issuer or instance_issuer(), (folder or instance_folder()) / "secrets")

    @property
    def base(self) -> str:
        return self.issuer.split("/realms/")[0]

    @property
    def realm(self) -> str:
        return self.issuer.rstrip("/").split("/realms/")[1]

    def secret(self, name: str) -> str:
        path = self.secrets / name
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            raise ProviderUnavailable(
                f"{path} is missing: the provider's secrets are made at its first start "
                "(`make run`, or scripts/keycloak.sh start)"
            ) from None

    # -- tokens -------------------------------------------------------------------------------

    def token(self, user: str, role: str = MEMBER, email: str = "") -> str:
        """An access token for development user `user` (made on first use, with `role`), or
        for the services' client when `role` is `service`. Kept while it has a minute left."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        address = (email or default_email(user)).lower()
        key = (SERVICE, "") if role == SERVICE else (role, address)
        with self._lock:
            held = self._tokens.get(key)
            if held and held[1] > time.time() + 60:
                return held[0]
        if role == SERVICE:
            answer = self._grant(SERVICES_CLIENT, client_secret=self.secret("services-client"))
        else:
            self.ensure_user(user, role, address)
            answer = self._grant(
                DEV_CLIENT, username=address, password=self.password(address), grant="password"
            )
        token = str(answer["access_token"])
        with self._lock:
            self._tokens[key] = (token, time.time() + float(answer["expires_in"]))
        return token

    def sign_in(self, users: list[str], role: str = MEMBER) -> dict[str, str]:
        """Tokens for many development users at once, asked side by side (a test's crowd of
        members: each new account costs the provider a few round trips)."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            return dict(zip(users, pool.map(lambda u: self.token(u, role), users), strict=True))

    def forget_tokens(self) -> None:
        """Drops the kept tokens: the next ones are new (e.g. signed by a rotated key)."""
        with self._lock:
            self._tokens.clear()

    def user_id(self, user: str, role: str = MEMBER, email: str = "") -> str:
        """The provider's id of development user `user` (its tokens' `sub`)."""
        return self.ensure_user(user, role, (email or default_email(user)).lower())

    def password(self, address: str) -> str:
        digest = hmac.new(
            self.secret("bootstrap-admin").encode(), address.encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def _grant(self, client: str, grant: str = "client_credentials", **form: str) -> dict[str, Any]:
        fields = {"grant_type": grant, "client_id": client, **form}
        return self._call(lambda: post_form(self._token_url(self.realm), fields))

    def _token_url(self, realm: str) -> str:
        return f"{self.base}/realms/{realm}/protocol/openid-connect/token"

    # -- accounts through the admin API -------------------------------------------------------

    def ensure_user(self, user: str, role: str, address: str) -> str:
        """The id of the account with `address`, made (with a first and last name, which the
        realm's user profile asks of everyone) and given `role` when missing."""
        key = f"{role}:{address}"
        if key in self._ids:
            return self._ids[key]
        found = self.admin("GET", f"users?email={urllib.parse.quote(address)}&exact=true")
        if found:
            user_id = str(found[0]["id"])
        else:
            self.admin(
                "POST",
                "users",
                {
                    "username": address,
                    "email": address,
                    "emailVerified": True,
                    "enabled": True,
                    "firstName": user,
                    "lastName": "Dev",
                    "credentials": [
                        {"type": "password", "value": self.password(address), "temporary": False}
                    ],
                },
            )
            user_id = str(self.admin("GET", f"users?email={urllib.parse.quote(address)}")[0]["id"])
        if role == ADMIN:
            roles = self.admin("GET", f"users/{user_id}/role-mappings/realm/composite")
            if not any(r["name"] == ADMIN for r in roles):
                admin_role = self.admin("GET", f"roles/{ADMIN}")
                self.admin("POST", f"users/{user_id}/role-mappings/realm", [admin_role])
        self._ids[key] = user_id
        return user_id

    def admin(self, method: str, path: str, body: Any = None, realm: str = "") -> Any:
        """One call of the admin API on the realm (or `realm`), as the bootstrap admin."""
        return self.admin_call(method, f"realms/{realm or self.realm}/{path}", body)

    def admin_call(self, method: str, path: str, body: Any = None) -> Any:
        """One call of the admin API at `<base>/admin/<path>` (e.g. `realms` to make one)."""
        url = f"{self.base}/admin/{path}".rstrip("/")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("authorization", f"Bearer {self._admin_token()}")
        request.add_header("content-type", "application/json")

        def send() -> Any:
            with urllib.request.urlopen(request, timeout=30) as answer:
                text = answer.read()
            return json.loads(text) if text else None

        return self._call(send)

    def _admin_token(self) -> str:
        token, expires = self._admin
        if expires > time.time() + 10:
            return token
        answer = self._call(
            lambda: post_form(
                self._token_url("master"),
                {
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": "admin",
                    "password": self.secret("bootstrap-admin"),
                },
            )
        )
        self._admin = (str(answer["access_token"]), time.time() + float(answer["expires_in"]))
        return self._admin[0]

    def _call(self, send: Callable[[], T]) -> T:
        try:
            return send()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:300]
            raise RuntimeError(f"{err.url} answered {err.code}: {detail}") from err
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            raise ProviderUnavailable(
                f"the identity provider at {self.issuer} does not answer ({err}): start it with "
                "`make run` (or scripts/keycloak.sh start)"
            ) from err


def subject(token: str) -> str:
    """The `sub` of a token the provider issued (read, not verified: for tests and tools)."""
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])
