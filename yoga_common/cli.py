"""`yoga token --user 11 [--role admin]`: prints a development JWT."""

from __future__ import annotations

import argparse
import sys

from yoga_common.auth import ADMIN, MEMBER, SERVICE, ensure_dev_keys, issue_token
from yoga_common.settings import AuthSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yoga", description="Development helpers")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a development JWT")
    token.add_argument("--user", required=True, help="the user id (token subject)")
    token.add_argument("--role", default=MEMBER, choices=[MEMBER, ADMIN, SERVICE])
    token.add_argument("--email", default="", help="address for notifications")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires")
    commands.add_parser("keys", help="create the development key pair under var/keys")
    args = parser.parse_args(argv)

    settings = AuthSettings()
    ensure_dev_keys(settings)
    if args.command == "token":
        email = args.email or f"user{args.user}@example.com"
        print(issue_token(settings, args.user, args.role, email, args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
