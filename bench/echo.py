"""The reference server: a bare `grpc.aio` server answering the measured calls with a fixed
response of the same size as the real service's (captured from it), with no interceptor, no
token check, no database. What Python gRPC can do on this machine is the ceiling the services
are compared with.

    python bench/echo.py --port 50099 --responses responses.json

`responses.json` maps a full method name to the base64 of a serialized response."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import grpc

from yoga.reservation.v1 import reservation_pb2, reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc

GET_CLASS = "yoga.yogaclass.v1.YogaClassService/GetClass"
LIST_CLASSES = "yoga.yogaclass.v1.YogaClassService/ListClasses"
CREATE_RESERVATION = "yoga.reservation.v1.ReservationService/CreateReservation"
TYPES: dict[str, Any] = {
    GET_CLASS: yogaclass_pb2.GetClassResponse,
    LIST_CLASSES: yogaclass_pb2.ListClassesResponse,
    CREATE_RESERVATION: reservation_pb2.CreateReservationResponse,
}


def load(path: Path) -> dict[str, Any]:
    raw = json.loads(path.read_text())
    return {name: TYPES[name].FromString(base64.b64decode(data)) for name, data in raw.items()}


def save(path: Path, responses: dict[str, Any]) -> None:
    path.write_text(
        json.dumps(
            {
                name: base64.b64encode(m.SerializeToString()).decode()
                for name, m in responses.items()
            }
        )
    )


class Classes(yogaclass_pb2_grpc.YogaClassServiceServicer):  # type: ignore[misc]
    def __init__(self, answers: dict[str, Any]) -> None:
        self._answers = answers

    async def GetClass(self, request: Any, context: Any) -> Any:
        return self._answers[GET_CLASS]

    async def ListClasses(self, request: Any, context: Any) -> Any:
        return self._answers[LIST_CLASSES]


class Reservations(reservation_pb2_grpc.ReservationServiceServicer):  # type: ignore[misc]
    def __init__(self, answers: dict[str, Any]) -> None:
        self._answers = answers

    async def CreateReservation(self, request: Any, context: Any) -> Any:
        return self._answers[CREATE_RESERVATION]


async def serve(port: int, answers: dict[str, Any]) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    yogaclass_pb2_grpc.add_YogaClassServiceServicer_to_server(Classes(answers), server)
    reservation_pb2_grpc.add_ReservationServiceServicer_to_server(Reservations(answers), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--responses", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, load(args.responses)))


if __name__ == "__main__":
    main()
