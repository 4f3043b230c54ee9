"""`yoga token --user 11 [--role admin] [--email E]`: prints an access token from the studio's
identity provider (the Keycloak that `make run` starts) for a development user, made with that
role through the provider's admin API on first use; `--role service` prints the services'
client-credentials token. It never signs anything itself.

The provider is found the way scripts/keycloak.sh runs it: KEYCLOAK_PORT (or YOGA_JWT_ISSUER)
and KEYCLOAK_DIR (default: the project's var/keycloak), wherever the command runs."""

from __future__ import annotations

import argparse
import sys

from yoga_common.dev_accounts import DevAccounts, ProviderUnavailable, subject
from yoga_common.principal import ADMIN, MEMBER, SERVICE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yoga", description="Development helpers")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print an access token from the provider")
    token.add_argument("--user", required=True, help="the development user's name")
    token.add_argument("--role", default=MEMBER, choices=[MEMBER, ADMIN, SERVICE])
    token.add_argument(
        "--email", default="", help="the user's address (default user<U>@example.com)"
    )
    token.add_argument("--id", action="store_true", help="print the user's id (`sub`) instead")
    args = parser.parse_args(argv)

    accounts = DevAccounts.of_instance()
    try:
        issued = accounts.token(args.user, args.role, args.email)
    except ProviderUnavailable as err:
        print(f"yoga token: {err}", file=sys.stderr)
        return 2
    print(subject(issued) if args.id else issued)
    return 0


if __name__ == "__main__":
    sys.exit(main())
