"""Writes a new Alembic revision for one service by comparing its tables with a scratch
database migrated to head: `python scripts/new_migration.py yogaclass_svc "add waitlist"`."""

from __future__ import annotations

import sys
import tempfile
from importlib import import_module
from pathlib import Path

from alembic import command
from alembic.config import Config

from yoga_common import migrate


def main(service: str, message: str) -> None:
    migrations = Path(import_module(service).__file__ or "").parent / "migrations"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        migrate.upgrade(url, migrations)
        cfg = Config()
        cfg.set_main_option("script_location", str(migrations))
        cfg.attributes["database_url"] = url
        command.revision(cfg, message=message, autogenerate=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
