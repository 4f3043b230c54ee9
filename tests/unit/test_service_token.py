"""reservation_svc's token for its calls to yogaclass_svc: asked of the provider with client
credentials once, kept until shortly before it expires, and a provider that cannot answer makes
the call UNAVAILABLE (worth retrying), never an error of ours."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from pydantic import SecretStr

from yoga_common.errors import Code, ServiceError
from yoga_common.service_token import RENEW_BEFORE_SECONDS, ServiceToken
from yoga_common.settings import AuthSettings

TOKEN_URL = "http://provider.test/realms/studio/protocol/openid-connect/token"


class Provider:
    def __init__(self, lifetime: float = 300.0) -> None:
        self.lifetime = lifetime
        self.asked: list[dict[str, str]] = []
        self.down = False

    def __call__(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        assert url == TOKEN_URL
        if self.down:
            raise OSError("connection refused")
        self.asked.append(form)
        return {"access_token": f"t{len(self.asked)}", "expires_in": self.lifetime}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def settings(secret: str = "s3cret") -> AuthSettings:
    return AuthSettings(token_uri=TOKEN_URL, client_secret=SecretStr(secret))


async def test_the_token_is_asked_once_and_renewed_before_it_expires() -> None:
    provider, clock = Provider(), Clock()
    token = ServiceToken(settings(), post=provider, clock=clock)
    assert await token.metadata() == (("authorization", "Bearer t1"),)
    assert provider.asked == [
        {
            "grant_type": "client_credentials",
            "client_id": "yoga-services",
            "client_secret": "s3cret",
        }
    ]
    clock.now += 300 - RENEW_BEFORE_SECONDS - 1
    assert await token.metadata() == (("authorization", "Bearer t1"),)
    clock.now += 1
    assert await token.metadata() == (("authorization", "Bearer t2"),)


async def test_a_short_lived_token_is_renewed_at_half_its_life() -> None:
    provider, clock = Provider(lifetime=40.0), Clock()
    token = ServiceToken(settings(), post=provider, clock=clock)
    await token.metadata()
    clock.now += 19
    await token.metadata()
    clock.now += 1
    await token.metadata()
    assert len(provider.asked) == 2


async def test_no_provider_means_unavailable_and_the_next_call_asks_again() -> None:
    provider, clock = Provider(), Clock()
    token = ServiceToken(settings(), post=provider, clock=clock)
    provider.down = True
    with pytest.raises(ServiceError) as refused:
        await token.metadata()
    assert (refused.value.code, refused.value.reason) == (
        Code.UNAVAILABLE,
        "IDENTITY_PROVIDER_UNAVAILABLE",
    )
    provider.down = False
    assert await token.metadata() == (("authorization", "Bearer t1"),)


async def test_a_service_without_a_client_secret_cannot_call_others() -> None:
    with pytest.raises(ServiceError) as refused:
        await ServiceToken(settings(secret=""), post=Provider()).metadata()
    assert refused.value.reason == "NO_SERVICE_CREDENTIALS"


def refusal(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "refused")


async def test_a_token_the_callee_refuses_is_renewed_and_the_call_made_once_more() -> None:
    """The provider rotated the token's key out: the callee refuses it, the service gets a
    new one at once instead of failing until it expires."""
    provider, clock = Provider(), Clock()
    token = ServiceToken(settings(), post=provider, clock=clock)
    await token.metadata()  # t1, held before the rotation
    sent: list[str] = []

    async def call(metadata: tuple[tuple[str, str], ...]) -> str:
        sent.append(metadata[0][1])
        if metadata[0][1] == "Bearer t1":
            raise refusal(grpc.StatusCode.UNAUTHENTICATED)
        return "ok"

    assert await token.authorized(call) == "ok"
    assert sent == ["Bearer t1", "Bearer t2"]
    assert len(provider.asked) == 2
    assert await token.metadata() == (("authorization", "Bearer t2"),)


async def test_other_refusals_keep_the_token_and_are_not_repeated() -> None:
    provider, clock = Provider(), Clock()
    token = ServiceToken(settings(), post=provider, clock=clock)
    calls = 0

    async def call(metadata: tuple[tuple[str, str], ...]) -> str:
        nonlocal calls
        calls += 1
        raise refusal(grpc.StatusCode.PERMISSION_DENIED)

    with pytest.raises(grpc.aio.AioRpcError):
        await token.authorized(call)
    assert (calls, len(provider.asked)) == (1, 1)
