"""Who is calling, once their token was verified, and the roles of the system. Plain Python (no
jwt, no gRPC), so the domain rules of every service can check a caller's rights."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN = "admin"
MEMBER = "member"
SERVICE = "service"
ROLES = (ADMIN, MEMBER, SERVICE)
# A `user_id` (a field or a `/v1/users/{user_id}/...` route) that means the caller: a member
# need not know the provider's id (their token's `sub`) to read their own page.
ME = "me"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    email: str = ""
    name: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def user(self, user_id: str) -> str:
        """The user a request names, with `me` meaning the caller."""
        return self.subject if user_id == ME else user_id
