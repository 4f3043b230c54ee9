"""The health service: the library's aio servicer (Check, Watch, graceful shutdown) plus
`List`, which its base class leaves unimplemented (UNIMPLEMENTED and an error-level traceback
on every call, from grpc-health-probe or grpcurl)."""

from __future__ import annotations

from typing import Any

from grpc_health.v1 import health, health_pb2


class HealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    async def List(
        self, request: health_pb2.HealthListRequest, context: Any
    ) -> health_pb2.HealthListResponse:
        return health_pb2.HealthListResponse(
            statuses={
                name: health_pb2.HealthCheckResponse(status=status)
                for name, status in self._server_status.items()
            }
        )
