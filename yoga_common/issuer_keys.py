"""The signing keys an OpenID Connect provider publishes (Keycloak's realm), as a verifier needs
them: found through the issuer's discovery document, kept in memory, and fetched again only
when a token names a key the cache does not hold, at most once every `refresh_seconds`. No
request waits on the provider otherwise, and a provider that is down leaves the cached keys
working: a token signed with an unknown key is then refused, never an error of ours."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

log = logging.getLogger(__name__)

Fetch = Callable[[str], dict[str, Any]]


def fetch_json(url: str, timeout: float = 2.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return dict(json.load(answer))


class IssuerKeys:
    def __init__(
        self,
        issuer: str,
        jwks_uri: str = "",
        algorithms: tuple[str, ...] = ("RS256",),
        refresh_seconds: float = 5.0,
        fetch: Fetch = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._jwks_uri = jwks_uri
        self._algorithms = algorithms
        self._refresh = refresh_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._loaded_at: float | None = None
        self._missed_at: float | None = None
        self._lock = threading.Lock()

    def holds(self, kid: str) -> bool:
        """Whether `kid` is among the keys fetched last (no call to the provider)."""
        return kid in self._keys

    def key(self, kid: str) -> Any | None:
        """The public key published under `kid`, or None if the provider has none (or cannot
        be asked now and never published it before)."""
        found = self._keys.get(kid)
        if found is not None:
            return found
        with self._lock:
            found = self._keys.get(kid)
            if found is None and self._may_ask():
                self._load()
                found = self._keys.get(kid)
        return found

    def _may_ask(self) -> bool:
        """The first load always; after it, a key not found asks the provider again at most
        once per `refresh_seconds`, so tokens naming made-up keys cannot flood it, while the
        first token of a freshly rotated key finds it at once."""
        if self._loaded_at is None:
            return True
        now = self._clock()
        if self._missed_at is not None and now - self._missed_at < self._refresh:
            return False
        self._missed_at = now
        return True

    def _load(self) -> None:
        self._loaded_at = self._clock()
        try:
            if not self._jwks_uri:
                discovery = self._fetch(f"{self._issuer}/.well-known/openid-configuration")
                self._jwks_uri = str(discovery["jwks_uri"])
            published = self._fetch(self._jwks_uri)
        except Exception as err:  # the provider is down or answers nonsense: keep what we have
            log.warning(
                "signing keys not fetched", extra={"issuer": self._issuer, "error": f"{err}"}
            )
            return
        keys: dict[str, Any] = {}
        for jwk in published.get("keys", []):
            signs = jwk.get("use", "sig") == "sig"
            if not signs or jwk.get("alg", self._algorithms[0]) not in self._algorithms:
                continue
            try:
                keys[str(jwk["kid"])] = jwt.PyJWK(jwk).key
            except (KeyError, jwt.PyJWKError) as err:
                log.warning("a published key was skipped", extra={"error": str(err)})
        # Keys the provider no longer publishes are dropped: a removed key signs nothing more.
        self._keys = keys
        log.info("signing keys fetched", extra={"issuer": self._issuer, "kids": sorted(keys)})
