"""The token a service presents when it calls another: asked of the OpenID Connect provider with
the client credentials grant (the `yoga-services` client, role `service`), kept until shortly
before it expires, so a call waits on the provider only once per token lifetime."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from yoga_common.errors import unavailable
from yoga_common.issuer_keys import fetch_json
from yoga_common.settings import AuthSettings

T = TypeVar("T")
Metadata = tuple[tuple[str, str], ...]

# Renewed this long before it expires (or at half its life when that is shorter), so a call
# never leaves with a token that lapses on the way.
RENEW_BEFORE_SECONDS = 30.0

PostForm = Callable[[str, dict[str, str]], dict[str, Any]]


def post_form(url: str, form: dict[str, str], timeout: float = 5.0) -> dict[str, Any]:
    """POSTs a form to an OAuth endpoint and returns its JSON answer; an error answer raises
    with the provider's own `error` and `error_description`."""
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("content-type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return dict(json.load(answer))
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:300]
        raise RuntimeError(f"{url} answered {err.code}: {detail}") from err


def token_endpoint(settings: AuthSettings) -> str:
    if settings.token_uri:
        return settings.token_uri
    discovery = fetch_json(f"{settings.issuer.rstrip('/')}/.well-known/openid-configuration")
    return str(discovery["token_endpoint"])


class ServiceToken:
    """This service's bearer token for calls to others."""

    def __init__(
        self,
        settings: AuthSettings,
        post: PostForm = post_form,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._post = post
        self._clock = clock
        self._endpoint = settings.token_uri
        self._token = ""
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def metadata(self) -> tuple[tuple[str, str], ...]:
        if self._clock() >= self._renew_at:
            async with self._lock:
                if self._clock() >= self._renew_at:
                    await asyncio.to_thread(self._renew)
        return (("authorization", f"Bearer {self._token}"),)

    async def authorized(self, call: Callable[[Metadata], Awaitable[T]]) -> T:
        """`call` made with this service's token. A callee that refuses it as UNAUTHENTICATED
        no longer trusts its key (the provider rotated it out): the token is dropped and the
        call made once more with a new one, instead of failing until the token expires."""
        metadata = await self.metadata()
        try:
            return await call(metadata)
        except grpc.aio.AioRpcError as err:
            if err.code() is not grpc.StatusCode.UNAUTHENTICATED:
                raise
            self._refused(metadata)
        return await call(await self.metadata())

    def _refused(self, metadata: Metadata) -> None:
        # Only the refused token is dropped: concurrent refusals renew it once.
        if metadata == (("authorization", f"Bearer {self._token}"),):
            self._renew_at = 0.0

    def _renew(self) -> None:
        secret = self._settings.client_secret.get_secret_value()
        if not secret:
            raise unavailable(
                "NO_SERVICE_CREDENTIALS",
                "this service has no client secret (YOGA_JWT_CLIENT_SECRET) to call others",
            )
        asked_at = self._clock()
        try:
            if not self._endpoint:
                self._endpoint = token_endpoint(self._settings)
            answer = self._post(
                self._endpoint,
                {
                    "grant_type": "client_credentials",
                    "client_id": self._settings.client_id,
                    "client_secret": secret,
                },
            )
            token, lifetime = str(answer["access_token"]), float(answer["expires_in"])
        except Exception as err:  # the provider is down or refuses: the call cannot be made
            raise unavailable(
                "IDENTITY_PROVIDER_UNAVAILABLE", f"no service token from the provider: {err}"
            ) from err
        self._token = token
        self._renew_at = asked_at + max(lifetime - RENEW_BEFORE_SECONDS, lifetime / 2)
