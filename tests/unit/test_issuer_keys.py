"""Tokens checked against the keys an OpenID Connect provider publishes (issue 13), with the
provider stood in for by a function that answers its discovery document and its JWKS: keys are
fetched once and again only for an unknown `kid`, at most every `refresh_seconds`; a provider
that is down leaves the cached keys working and refuses unknown ones as UNAUTHENTICATED."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from yoga_common.auth import TokenVerifier, principal_from
from yoga_common.errors import ServiceError
from yoga_common.issuer_keys import IssuerKeys
from yoga_common.settings import AuthSettings

ISSUER = "http://provider.test/realms/studio"
JWKS = f"{ISSUER}/protocol/openid-connect/certs"


class Provider:
    """Publishes the public halves of its current keys; may be down."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.down = False
        self.asked: list[str] = []

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def __call__(self, url: str) -> dict[str, Any]:
        self.asked.append(url)
        if self.down:
            raise OSError("connection refused")
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": ISSUER, "jwks_uri": JWKS}
        published = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": published}

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": ["yoga", "account"],
            "sub": "5c1f2d7e-0000-4000-8000-000000000011",
            "exp": now + 300,
            "iat": now,
            "email": "jiwoo@studio.example",
            "realm_access": {"roles": ["default-roles-studio", "member"]},
            **claims,
        }
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider() -> Provider:
    p = Provider()
    p.add_key("k1")
    return p


def verifier(provider: Provider, clock: Clock | None = None) -> TokenVerifier:
    settings = AuthSettings(issuer=ISSUER, audience="yoga")
    keys = IssuerKeys(ISSUER, fetch=provider, clock=clock or Clock(), refresh_seconds=10.0)
    return TokenVerifier(settings, keys)


def refused(check: TokenVerifier, token: str) -> ServiceError:
    with pytest.raises(ServiceError) as err:
        check.verify(token)
    assert err.value.code.name == "UNAUTHENTICATED"
    return err.value


def test_a_provider_token_names_the_member_and_their_role(provider: Provider) -> None:
    principal = verifier(provider).verify(provider.token("k1"))
    assert (principal.subject, principal.role, principal.email) == (
        "5c1f2d7e-0000-4000-8000-000000000011",
        "member",
        "jiwoo@studio.example",
    )


def test_the_keys_are_fetched_once_not_per_request(provider: Provider) -> None:
    check = verifier(provider)
    for n in range(5):
        check.verify(provider.token("k1", jti=str(n)))
    assert provider.asked == [f"{ISSUER}/.well-known/openid-configuration", JWKS]


def test_a_new_key_is_fetched_when_a_token_names_it(provider: Provider) -> None:
    clock = Clock()
    check = verifier(provider, clock)
    check.verify(provider.token("k1"))
    provider.add_key("k2")  # at once: the first token of a rotated key must not wait
    assert check.verify(provider.token("k2")).role == "member"


def test_unknown_keys_do_not_make_every_request_ask_the_provider(provider: Provider) -> None:
    clock = Clock()
    check = verifier(provider, clock)
    check.verify(provider.token("k1"))
    stranger = Provider()
    stranger.add_key("k9")
    for _ in range(20):
        refused(check, stranger.token("k9"))
    assert provider.asked.count(JWKS) == 2  # the first load, then once for the unknown key
    clock.now = 10.0
    refused(check, stranger.token("k9"))
    assert provider.asked.count(JWKS) == 3


def test_a_provider_outage_keeps_known_keys_and_refuses_unknown_ones(provider: Provider) -> None:
    clock = Clock()
    check = verifier(provider, clock)
    check.verify(provider.token("k1"))
    provider.down = True
    provider.add_key("k2")
    clock.now = 60.0
    assert check.verify(provider.token("k1", jti="again")).role == "member"
    refused(check, provider.token("k2"))
    provider.down = False
    clock.now = 120.0
    assert check.verify(provider.token("k2")).role == "member"


def test_a_key_the_provider_removed_signs_nothing_more(provider: Provider) -> None:
    clock = Clock()
    check = verifier(provider, clock)
    seen = provider.token("k1")
    check.verify(seen)
    signed_later = provider.token("k1", jti="signed by the old key, never seen")
    provider.add_key("k2")
    del provider.keys["k1"]
    clock.now = 11.0
    check.verify(provider.token("k2"))  # the new key's first token refreshes the cache
    refused(check, signed_later)
    refused(check, seen)  # verified before, but its key is withdrawn now


@pytest.mark.parametrize(
    "claims",
    [
        lambda now: {"aud": "another-api"},
        lambda now: {"iss": "http://provider.test/realms/other"},
        lambda now: {"exp": now - 60},
        lambda now: {"nbf": now + 600},
        lambda now: {"realm_access": {"roles": ["offline_access"]}},
    ],
    ids=["aud", "iss", "expired", "not-yet-valid", "no-role"],
)
def test_tokens_the_api_must_not_accept(
    provider: Provider, claims: Callable[[int], dict[str, Any]]
) -> None:
    # Times relative to when the test runs, not to when it was collected (minutes earlier
    # in `make test`, after the integration tests).
    refused(verifier(provider), provider.token("k1", **claims(int(time.time()))))


def test_unsigned_and_symmetric_tokens_are_refused(provider: Provider) -> None:
    check = verifier(provider)
    good = provider.token("k1")
    body = jwt.decode(good, options={"verify_signature": False})
    refused(check, jwt.encode(body, None, algorithm="none", headers={"kid": "k1"}))
    public_pem = provider(JWKS)["keys"][0]["n"]  # any public material as an HMAC secret
    refused(check, jwt.encode(body, public_pem, algorithm="HS256", headers={"kid": "k1"}))
    head, _payload, signature = good.split(".")
    tampered = jwt.utils.base64url_encode(json.dumps({**body, "sub": "someone-else"}).encode())
    refused(check, f"{head}.{tampered.decode()}.{signature}")


def test_the_strongest_known_role_is_the_callers() -> None:
    def role(*roles: str) -> str:
        return principal_from({"sub": "u", "realm_access": {"roles": list(roles)}}).role

    assert role("member", "admin") == "admin"
    assert role("default-roles-studio", "member") == "member"
    assert role("service") == "service"
    with pytest.raises(ServiceError):  # a bare `role` claim (the old development tokens) is not one
        principal_from({"sub": "u", "role": "admin"})


def test_the_member_is_the_tokens_subject_with_its_address_and_name(provider: Provider) -> None:
    principal = verifier(provider).verify(provider.token("k1", name="Jiwoo Kim"))
    assert principal.subject == "5c1f2d7e-0000-4000-8000-000000000011"
    assert (principal.email, principal.name) == ("jiwoo@studio.example", "Jiwoo Kim")


def test_a_cached_token_is_refused_once_it_expires(provider: Provider) -> None:
    check = verifier(provider)
    # `exp` is whole seconds: + 1 could leave a few milliseconds (now at x.99), less than
    # signing and checking take, so the first verify would already see it expired. + 2 leaves
    # at least one second.
    exp = int(time.time()) + 2
    token = provider.token("k1", exp=exp)
    assert check.verify(token).role == "member"
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    assert "expired" in refused(check, token).message


@pytest.mark.parametrize("missing", ["exp", "sub", "iss", "aud"])
def test_a_token_missing_a_required_claim_is_refused(provider: Provider, missing: str) -> None:
    good = jwt.decode(provider.token("k1"), options={"verify_signature": False})
    del good[missing]
    token = jwt.encode(good, provider.keys["k1"], algorithm="RS256", headers={"kid": "k1"})
    refused(verifier(provider), token)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "Bearer x"])
def test_a_malformed_token_is_refused(provider: Provider, token: str) -> None:
    refused(verifier(provider), token)


def test_the_verifier_says_when_a_token_would_make_it_ask_the_provider(
    provider: Provider,
) -> None:
    check = verifier(provider)
    first = provider.token("k1")
    assert check.asks_provider(first)  # no key held yet
    check.verify(first)
    assert not check.asks_provider(first)
    assert not check.asks_provider(provider.token("k1", jti="another"))  # k1 is held
    provider.add_key("k2")
    assert check.asks_provider(provider.token("k2"))
    assert not check.asks_provider("garbage")  # refused without asking anyone
