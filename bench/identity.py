"""Who the bench's callers are: development accounts at the identity provider scripts/keycloak.sh
runs (KEYCLOAK_PORT and KEYCLOAK_DIR move it), the same Keycloak the services under measurement
trust. Every token comes from that provider (yoga_common.dev_accounts); the bench never signs
one. A member token lives 5 minutes (an hour through yoga-cli where the realm says so) and
DevAccounts replaces one with under a minute left, so a run asks for its tokens just before it
starts rather than keeping them."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import jwt
from pydantic import SecretStr

from devtools import servers
from yoga_common.auth import MEMBER
from yoga_common.dev_accounts import DevAccounts
from yoga_common.settings import AuthSettings

# The shared server the bench starts, when it is not running, beside Kafka and PostgreSQL.
PROVIDER = "keycloak"
# Tokens asked for at once: each new one is a password grant (a password hash at the provider).
PARALLEL = 4


@functools.cache
def accounts() -> DevAccounts:
    """Development accounts at the running instance, under the issuer its script prints."""
    return DevAccounts.of_instance(issuer=servers.script("keycloak.sh", "url"))


def auth() -> AuthSettings:
    """What the services of a bench system trust: the running instance's issuer, and the
    services' client secret it made at its first start."""
    return AuthSettings(
        issuer=accounts().issuer,
        client_secret=SecretStr(servers.script("keycloak.sh", "secret", "services-client")),
    )


def token(user: str, role: str = MEMBER) -> str:
    """An access token of development user `user` (made at the provider on first use)."""
    return accounts().token(user, role)


def user_id(user: str) -> str:
    """The provider's id of development user `user`: the member's id in the system."""
    return accounts().user_id(user)


def metadata(user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token(user, role)}"),)


def seconds_left(access_token: str) -> float:
    """How long a token the provider issued stays valid (read, not verified)."""
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return float(claims["exp"]) - time.time()


def sign_in(users: Iterable[str], role: str = MEMBER, valid_for: float = 0.0) -> None:
    """Holds a token for each of `users` (a few asked for at once), so that none is asked for
    once a clock runs. With `valid_for`, one that expires sooner is replaced by a new one (as
    long-lived as the provider issues them) for a run longer than DevAccounts' minute."""
    names = list(dict.fromkeys(users))

    def fetch() -> list[str]:
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            return list(pool.map(lambda user: token(user, role), names))

    held = fetch()
    if valid_for and any(seconds_left(t) < valid_for for t in held):
        accounts().forget_tokens()
        fetch()
