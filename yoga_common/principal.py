"""Who is calling, once their token was verified, and the roles of the system. Plain Python (no
jwt, no gRPC), so the domain rules of every service can check a caller's rights."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN = "admin"
MEMBER = "member"
SERVICE = "service"
ROLES = (ADMIN, MEMBER, SERVICE)


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    email: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN
