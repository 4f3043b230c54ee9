"""`yoga token --user 11 [--role admin]`: prints a development JWT, signed with the key pair
`make run` made under the project's var/keys; `yoga keys` makes that pair (if missing).

Relative key paths are the project's, wherever the command runs: run from another folder, it
once made a second key pair there, whose tokens every service refused."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from yoga_common.auth import ADMIN, MEMBER, SERVICE, ensure_dev_keys, issue_token
from yoga_common.settings import AuthSettings

ROOT = Path(__file__).resolve().parent.parent


def project_settings() -> AuthSettings:
    settings = AuthSettings()

    def anchored(path: Path) -> Path:
        return path if path.is_absolute() else ROOT / path

    return settings.model_copy(
        update={
            "public_key_file": anchored(settings.public_key_file),
            "private_key_file": anchored(settings.private_key_file),
        }
    )


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

    settings = project_settings()
    if args.command == "keys":
        ensure_dev_keys(settings)
        print(settings.public_key_file.parent)
        return 0
    if not settings.private_key_file.exists():
        print(
            f"yoga token: no development key at {settings.private_key_file}: start the system "
            "once with `make run` (or run `yoga keys`) in the project, or point "
            "YOGA_JWT_PRIVATE_KEY_FILE at the key the services use",
            file=sys.stderr,
        )
        return 2
    email = args.email or f"user{args.user}@example.com"
    print(issue_token(settings, args.user, args.role, email, args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
