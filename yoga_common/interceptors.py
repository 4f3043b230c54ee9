"""The one server interceptor of every service: authenticates the bearer token, checks the
caller's role against the service's method table (default deny; health and reflection open),
and turns a `ServiceError` into a `google.rpc.Status` with ErrorInfo/BadRequest details."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextvars import ContextVar
from typing import Any, TypeAlias

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from yoga_common.auth import Principal, TokenVerifier
from yoga_common.db import is_unavailable
from yoga_common.errors import (
    DOMAIN,
    ServiceError,
    permission_denied,
    unauthenticated,
    unavailable,
)
from yoga_common.metrics import GRPC_HANDLED, GRPC_SECONDS, GRPC_STARTED

log = logging.getLogger(__name__)

# grpc ships no type information: the context is typed by name only.
Context: TypeAlias = grpc.aio.ServicerContext

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_principal: ContextVar[Principal | None] = ContextVar("principal", default=None)


def current_principal() -> Principal:
    principal = _principal.get()
    if principal is None:  # only reachable if a method were served without the interceptor
        raise unauthenticated("no caller identity")
    return principal


# What an error may echo of a request: the status travels in the trailers, and a client refuses
# trailers over its metadata limit (8 KiB by default) with RESOURCE_EXHAUSTED in place of the
# real error. A 10,000-character field name was enough.
MAX_TEXT = 160
MAX_MESSAGE = 500
MAX_VIOLATIONS = 10


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def to_status_proto(err: ServiceError) -> status_pb2.Status:
    status = status_pb2.Status(code=err.code.value, message=bounded(err.message, MAX_MESSAGE))
    info = error_details_pb2.ErrorInfo(
        reason=err.reason,
        domain=DOMAIN,
        metadata={bounded(k): bounded(v) for k, v in err.metadata.items()},
    )
    status.details.add().Pack(info)
    if err.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=bounded(v.field), description=bounded(v.description)
                )
                for v in err.violations[:MAX_VIOLATIONS]
            ]
        )
        status.details.add().Pack(bad)
    return status


async def abort(context: Context, status: status_pb2.Status) -> None:
    rich = rpc_status.to_status(status)
    await context.abort(rich.code, rich.details, rich.trailing_metadata)


Behavior = Callable[[Any, Context], Awaitable[Any]]


class _MethodMetrics:
    """One method's metric series, looked up once: `labels()` takes a lock and hashes its
    labels, three times a call otherwise."""

    def __init__(self, method: str) -> None:
        service, _, name = method.strip("/").partition("/")
        self._labels = ("unary", service, name)
        self.started = GRPC_STARTED.labels(*self._labels)
        self.seconds = GRPC_SECONDS.labels(*self._labels)
        self._handled: dict[Any, Any] = {}

    def handled(self, code: Any) -> Any:
        found = self._handled.get(code)
        if found is None:
            found = GRPC_HANDLED.labels(*self._labels, _code_name(code))
            self._handled[code] = found
        return found


class ServiceInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, verifier: TokenVerifier, roles: Mapping[str, frozenset[str]]) -> None:
        """`roles`: full method path (`/pkg.Service/Method`) -> roles allowed to call it."""
        self._verifier = verifier
        self._roles = roles
        # method -> (the handler found, its guarded version): built once per method, since
        # the call's metadata is read from its context, not from the handler's details.
        self._guarded: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        if handler.unary_unary is None:  # every API method of ours is unary
            return handler
        known = self._guarded.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        guarded = grpc.unary_unary_rpc_method_handler(
            self._guard(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._guarded[method] = (handler, guarded)
        return guarded

    async def _authorize(self, method: str, context: Context) -> Principal:
        header = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                header = str(value)  # the last one, as a dict of the metadata had it
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("a bearer token is required")
        token = token.strip()
        if self._verifier.asks_provider(token):
            # A key not held yet: asking the provider (up to its timeout when it is down) must
            # not stop every other call of this process meanwhile.
            principal = await asyncio.to_thread(self._verifier.verify, token)
        else:
            principal = self._verifier.verify(token)
        allowed = self._roles.get(method)
        if allowed is None or principal.role not in allowed:
            raise permission_denied(f"role {principal.role!r} may not call {method}")
        return principal

    def _guard(self, method: str, inner: Behavior) -> Behavior:
        metrics = _MethodMetrics(method)

        async def behavior(request: Any, context: Context) -> Any:
            metrics.started.inc()
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                answer = await self._answer(method, inner, request, context)
                code = context.code() or grpc.StatusCode.OK
                return answer
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                metrics.seconds.observe(time.perf_counter() - started)
                metrics.handled(code).inc()

        return behavior

    async def _answer(
        self,
        method: str,
        inner: Behavior,
        request: Any,
        context: Context,
    ) -> Any:
        try:
            _principal.set(await self._authorize(method, context))
            return await inner(request, context)
        except ServiceError as err:
            log.info(
                "request refused",
                extra={"method": method, "code": err.code.name, "reason": err.reason},
            )
            await abort(context, to_status_proto(err))
        except Exception as err:
            if isinstance(err, grpc.aio.AbortError) or context.code() is not None:
                raise
            if is_unavailable(err):
                # The database, not the request: a client may try again (found by make chaos,
                # a PostgreSQL restart answered INTERNAL).
                log.warning("database unavailable", extra={"method": method, "error": str(err)})
                refusal = unavailable(
                    "DATABASE_UNAVAILABLE", "the database cannot be reached; retry"
                )
                await abort(context, to_status_proto(refusal))
                return None
            log.exception("unexpected error", extra={"method": method})
            await abort(
                context,
                status_pb2.Status(code=code_pb2.INTERNAL, message="internal error"),
            )
        return None


def _code_name(code: Any) -> str:
    """grpc.aio reports the code as a StatusCode, or as the raw integer after an abort."""
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    for known in grpc.StatusCode:
        if known.value[0] == code:
            return str(known.name)
    return "UNKNOWN"


def role_table(
    service: ServiceDescriptor, roles: Mapping[str, Collection[str]]
) -> dict[str, frozenset[str]]:
    """Full method paths -> roles. Every method of the service must be named, so a method added
    to the proto without a decision about who may call it fails at start-up, not open."""
    names = {m.name for m in service.methods}
    if set(roles) != names:
        raise ValueError(f"role table of {service.full_name} must name exactly {sorted(names)}")
    return {f"/{service.full_name}/{name}": frozenset(r) for name, r in roles.items()}
